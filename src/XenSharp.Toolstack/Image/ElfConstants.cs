namespace XenSharp.Toolstack.Image;

/// <summary>The few ELF64 numbers the kernel reader needs (System V gABI, x86-64 psABI).</summary>
internal static class ElfConstants
{
    public const int IdentClass = 4;
    public const int IdentData = 5;
    public const byte Class64 = 2;
    public const byte DataLittleEndian = 1;
    public const ushort MachineX86_64 = 62;
    public const ushort TypeExecutable = 2;

    public const uint PtLoad = 1;
    public const uint PtNote = 4;
    public const uint ShtNote = 7;

    public const uint PfExecute = 1;
    public const uint PfWrite = 2;
    public const uint PfRead = 4;

    public const int FileHeaderSize = 64;
    public const int ProgramHeaderSize = 56;
    public const int SectionHeaderSize = 64;

    public static ReadOnlySpan<byte> Magic => [0x7F, (byte)'E', (byte)'L', (byte)'F'];
}
