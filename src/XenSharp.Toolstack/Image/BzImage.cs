using System.Buffers.Binary;

namespace XenSharp.Toolstack.Image;

/// <summary>
/// A Linux x86 bzImage (<c>vmlinuz</c>), which xl boots as a PV kernel directly: libxc's bzimageloader finds the
/// compressed vmlinux through the boot setup header and hands the unpacked ELF to the ELF loader; so does this. The
/// header is recognised by "HdrS" at 0x202 and must be boot protocol 2.08 or later (the first with payload fields).
/// The payload starts after the real-mode setup, (setup_sects + 1) * 512 bytes (setup_sects at 0x1f1; 0 means 4, as
/// the boot protocol says), plus payload_offset (0x248), and is payload_length (0x24c) bytes; it must lie inside the
/// file. <see cref="BzImagePayload"/> decompresses it.
/// </summary>
internal static class BzImage
{
    private const int SetupSectsOffset = 0x1f1;
    private const int MagicOffset = 0x202;
    private const int VersionOffset = 0x206;
    private const int PayloadOffsetOffset = 0x248;
    private const int PayloadLengthOffset = 0x24c;
    private const int HeaderEnd = 0x250;
    private const ushort FirstVersionWithPayload = 0x0208;

    public static bool IsBzImage(ReadOnlySpan<byte> file) => file.Length >= MagicOffset + 4 && file.Slice(MagicOffset, 4).SequenceEqual("HdrS"u8);

    /// <summary>The vmlinux inside a bzImage, or <paramref name="file"/> itself when it is not one.</summary>
    public static byte[] Unpack(byte[] file, string name)
    {
        if (!IsBzImage(file))
        {
            return file;
        }

        if (file.Length < HeaderEnd)
        {
            throw KernelImageException.For(name, $"bzImage is truncated: {file.Length} bytes end inside its setup header (0x{HeaderEnd:x} bytes)");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(VersionOffset));
        if (version < FirstVersionWithPayload)
        {
            throw KernelImageException.For(name, $"bzImage boot protocol {version >> 8}.{version & 0xff:D2} is older than 2.08, which has no payload fields");
        }

        int setupSects = file[SetupSectsOffset] == 0 ? 4 : file[SetupSectsOffset];
        long start = (setupSects + 1L) * 512 + BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(PayloadOffsetOffset));
        long length = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(PayloadLengthOffset));
        if (start + length > file.Length)
        {
            throw KernelImageException.For(name, $"bzImage is truncated: its payload ({length} bytes at offset {start}) ends past the end of the file ({file.Length} bytes)");
        }

        return BzImagePayload.Decompress(file.AsMemory((int)start, (int)length), name);
    }
}
