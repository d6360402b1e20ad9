namespace XenSharp.Abi;

/// <summary>memory_op commands (xen/include/public/memory.h); cmd bits 6 and up carry a continuation.</summary>
public static class MemoryOp
{
    public const int IncreaseReservation = 0;
    public const int DecreaseReservation = 1;
    public const int MaximumRamPage = 2;
    public const int CurrentReservation = 3;
    public const int MaximumReservation = 4;
    public const int MachphysMfnList = 5;
    public const int PopulatePhysmap = 6;
    public const int MemoryMap = 9;
    public const int MachphysMapping = 12;
    public const int MaximumGpfn = 14;
    public const int GetVnumaInfo = 26;
    public const int CommandMask = 0x3f;
    public const int ContinuationShift = 6;

    public const ushort DomidSelf = 0x7ff0;
}
