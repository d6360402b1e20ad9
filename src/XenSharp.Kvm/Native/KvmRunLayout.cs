namespace XenSharp.Kvm.Native;

/// <summary>Byte offsets into the mmap()ed struct kvm_run that this layer reads or writes. Offsets rather than a struct,
/// because most of kvm_run is a union whose arm depends on exit_reason; tests pin them against gcc offsetof.</summary>
internal static class KvmRunLayout
{
    public const int ImmediateExit = 1;     // __u8
    public const int ExitReason = 8;        // __u32
    public const int ExitUnion = 32;

    public const int IoDirection = 32;      // __u8
    public const int IoSize = 33;           // __u8
    public const int IoPort = 34;           // __u16
    public const int IoCount = 36;          // __u32
    public const int IoDataOffset = 40;     // __u64, from the start of kvm_run

    public const int MmioPhysAddr = 32;     // __u64
    public const int MmioData = 40;         // __u8[8]
    public const int MmioLen = 48;          // __u32
    public const int MmioIsWrite = 52;      // __u8

    public const int FailEntryHardwareReason = 32; // __u64
    public const int InternalSuberror = 32;        // __u32
    public const int SystemEventType = 32;         // __u32

    public const int KvmValidRegs = 288;    // __u64
    public const int KvmDirtyRegs = 296;    // __u64, never written by us
    public const int SyncRegs = 304;        // struct kvm_regs at the start of s.regs
}
