namespace XenSharp.Abi;

/// <summary>struct trap_info (arch-x86/xen.h): vector u8 @0, flags u8 @1, cs u16 @2, address u64 @8; a list ends at address 0.</summary>
public readonly record struct TrapInfo(byte Vector, byte Flags, ushort Cs, ulong Address)
{
    public const int Size = 16;
    public const byte DplMask = 3;
    public const byte SetIf = 4;
}
