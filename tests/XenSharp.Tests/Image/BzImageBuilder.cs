using System.Buffers.Binary;

namespace XenSharp.Tests.Image;

/// <summary>
/// Writes a Linux x86 bzImage around a payload, as Linux's build lays one out: a boot sector and real-mode setup of
/// (setup_sects + 1) * 512 bytes whose setup header ("HdrS" at 0x202) gives the boot protocol version and the payload's
/// offset (0x248, from the end of the setup) and length (0x24c), then the protected-mode part holding the payload.
/// The payload is taken as given: compressed, with the 4-byte size Linux appends where it does (see <c>PayloadEncoder</c> in the unit tests).
/// </summary>
internal sealed class BzImageBuilder(byte[] payload)
{
    public ushort Version { get; init; } = 0x020f;

    /// <summary>What the header's setup_sects byte holds; 0 means 4 setup sectors.</summary>
    public byte SetupSects { get; init; } = 3;

    /// <summary>Bytes of the protected-mode part before the payload (Linux's decompressor stub).</summary>
    public int PayloadOffset { get; init; } = 0x140;

    /// <summary>What the header says the payload's length is; null: the payload's real length.</summary>
    public uint? PayloadLength { get; init; }

    public byte[] Build()
    {
        int setupSize = ((SetupSects == 0 ? 4 : SetupSects) + 1) * 512;
        var file = new byte[setupSize + PayloadOffset + payload.Length + 0x20];
        Span<byte> s = file;
        s[0] = (byte)'M';
        s[1] = (byte)'Z';
        s[0x1f1] = SetupSects;
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x1fe..], 0xaa55);
        "HdrS"u8.CopyTo(s[0x202..]);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x206..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x248..], (uint)PayloadOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x24c..], PayloadLength ?? (uint)payload.Length);
        payload.CopyTo(s[(setupSize + PayloadOffset)..]);
        return file;
    }
}
