namespace XenSharp.Abi;

/// <summary>SHUTDOWN_* reasons (xen/include/public/sched.h).</summary>
public enum ShutdownReason
{
    Poweroff = 0,
    Reboot = 1,
    Suspend = 2,
    Crash = 3,
    Watchdog = 4,
    SoftReset = 5,
}
