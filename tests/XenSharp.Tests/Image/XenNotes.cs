using System.Buffers.Binary;
using System.Text;

namespace XenSharp.Tests.Image;

/// <summary>Encodes ELF notes (Elf64_Nhdr: namesz, descsz, type, then name and desc padded to 4).</summary>
internal static class XenNotes
{
    public const uint Entry = 1;
    public const uint HypercallPage = 2;
    public const uint VirtBase = 3;
    public const uint PaddrOffset = 4;
    public const uint XenVersion = 5;
    public const uint GuestOs = 6;
    public const uint GuestVersion = 7;
    public const uint Loader = 8;
    public const uint PaeMode = 9;
    public const uint Features = 10;
    public const uint BsdSymtab = 11;
    public const uint HvStartLow = 12;
    public const uint L1MfnValid = 13;
    public const uint SuspendCancel = 14;
    public const uint InitP2m = 15;
    public const uint ModStartPfn = 16;
    public const uint SupportedFeatures = 17;
    public const uint Phys32Entry = 18;

    public static byte[] Note(string owner, uint type, byte[] desc)
    {
        byte[] name = Encoding.ASCII.GetBytes(owner + "\0");
        var note = new byte[12 + Pad(name.Length) + Pad(desc.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(note, (uint)name.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(note.AsSpan(4), (uint)desc.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(note.AsSpan(8), type);
        name.CopyTo(note, 12);
        desc.CopyTo(note, 12 + Pad(name.Length));
        return note;
    }

    public static byte[] Str(uint type, string value) => Note("Xen", type, Encoding.ASCII.GetBytes(value + "\0"));

    public static byte[] U32(uint type, uint value)
    {
        var desc = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(desc, value);
        return Note("Xen", type, desc);
    }

    public static byte[] U64(uint type, ulong value)
    {
        var desc = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(desc, value);
        return Note("Xen", type, desc);
    }

    public static byte[] Join(params IEnumerable<byte[]> notes) => notes.SelectMany(n => n).ToArray();

    private static int Pad(int size) => (size + 3) & ~3;
}
