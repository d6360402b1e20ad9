namespace XenSharp.Abi;

/// <summary>vm_assist commands and types (xen/include/public/xen.h).</summary>
public static class VmAssist
{
    public const int CmdEnable = 0;
    public const int CmdDisable = 1;
    public const int Type4GbSegments = 0;
    public const int Type4GbSegmentsNotify = 1;
    public const int TypeWritablePageTables = 2;
    public const int TypePaeExtendedCr3 = 3;
    public const int TypeArchitecturalIopl = 4;
    public const int TypeRunstateUpdateFlag = 5;
    public const int TypeM2pStrict = 32;

    /// <summary>The types a 64-bit PV guest may set (all seven above).</summary>
    public const ulong Pv64ValidMask = (1UL << 0) | (1UL << 1) | (1UL << 2) | (1UL << 3) | (1UL << 4) | (1UL << 5) | (1UL << 32);
}
