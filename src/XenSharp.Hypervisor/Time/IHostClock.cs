namespace XenSharp.Hypervisor.Time;

/// <summary>The host's monotonic clock in nanoseconds (an arbitrary origin). Timers and system time run on it.</summary>
internal interface IHostClock
{
    long NowNanoseconds { get; }
}
