namespace XenSharp.Abi;

/// <summary>XENFEAT_* bit numbers (xen/include/public/features.h).</summary>
public static class XenFeature
{
    public const int WritablePageTables = 0;
    public const int WritableDescriptorTables = 1;
    public const int AutoTranslatedPhysmap = 2;
    public const int SupervisorModeKernel = 3;
    public const int PaePgdirAbove4Gb = 4;
    public const int MmuPtUpdatePreserveAd = 5;
    public const int HighmemAssist = 6;
    public const int GnttabMapAvailBits = 7;
    public const int HvmCallbackVector = 8;
    public const int Dom0 = 11;
    public const int MemoryOpVnodeSupported = 13;
    public const int NotDirectMapped = 16;
    public const int DirectMapped = 17;
}
