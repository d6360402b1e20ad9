namespace XenSharp.Abi;

/// <summary>Offsets in the x86-64 shared_info page and its vcpu_info slots (xen/include/public/xen.h, arch-x86/xen.h).</summary>
public static class SharedInfoLayout
{
    public const int LegacyMaxVcpus = 32;
    public const int VcpuInfoSize = 64;
    public const int EvtchnPending = 2048;
    public const int EvtchnMask = 2560;
    public const int WcVersion = 3072;
    public const int WcSec = 3076;
    public const int WcNsec = 3080;
    public const int WcSecHi = 3084;
    public const int ArchMaxPfn = 3088;

    // Within one vcpu_info.
    public const int UpcallPending = 0;
    public const int UpcallMask = 1;
    public const int PendingSel = 8;
    public const int ArchCr2 = 16;
    public const int Time = 32;

    // Within vcpu_time_info (32 bytes).
    public const int TimeInfoSize = 32;
    public const int TimeVersion = 0;
    public const int TimeTscTimestamp = 8;
    public const int TimeSystemTime = 16;
    public const int TimeTscToSystemMul = 24;
    public const int TimeTscShift = 28;
    public const int TimeFlags = 29;
    public const byte TimeFlagTscStable = 1;
}
