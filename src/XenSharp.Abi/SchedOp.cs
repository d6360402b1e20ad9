namespace XenSharp.Abi;

/// <summary>sched_op commands (xen/include/public/sched.h).</summary>
public static class SchedOp
{
    public const int Yield = 0;
    public const int Block = 1;
    public const int Shutdown = 2;
    public const int Poll = 3;
    public const int RemoteShutdown = 4;
    public const int ShutdownCode = 5;
    public const int Watchdog = 6;
}
