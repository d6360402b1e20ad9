namespace XenSharp.Abi;

/// <summary>vcpu_op commands and their argument layouts (xen/include/public/vcpu.h).</summary>
public static class VcpuOp
{
    public const int Initialise = 0;
    public const int Up = 1;
    public const int Down = 2;
    public const int IsUp = 3;
    public const int GetRunstateInfo = 4;
    public const int RegisterRunstateMemoryArea = 5;
    public const int SetPeriodicTimer = 6;
    public const int StopPeriodicTimer = 7;
    public const int SetSingleshotTimer = 8;
    public const int StopSingleshotTimer = 9;
    public const int RegisterVcpuInfo = 10;
    public const int SendNmi = 11;
    public const int GetPhysid = 12;
    public const int RegisterVcpuTimeMemoryArea = 13;

    /// <summary>vcpu_set_singleshot_timer.flags: fail with -ETIME if the deadline has passed (dropped by current Xen).</summary>
    public const uint SingleshotFuture = 1;

    /// <summary>vcpu_register_vcpu_info: {mfn u64, offset u32, rsvd u32}.</summary>
    public const int RegisterVcpuInfoSize = 16;

    /// <summary>The shortest periodic timer period Xen accepts (1 ms).</summary>
    public const ulong MinPeriodNs = 1_000_000;
}
