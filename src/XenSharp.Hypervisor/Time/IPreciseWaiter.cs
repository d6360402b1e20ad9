namespace XenSharp.Hypervisor.Time;

/// <summary>
/// Sleeps until a CLOCK_MONOTONIC deadline in ns with the host kernel's own wake-up latency (a timerfd, provided by
/// the machine layer); <see cref="TimerQueue"/> falls back to Monitor.Wait when there is none or it fails.
/// </summary>
internal interface IPreciseWaiter : IDisposable
{
    /// <summary>Waits until <paramref name="deadlineNs"/> or <see cref="Wake"/>; false if the waiter failed.</summary>
    bool WaitUntil(long deadlineNs);

    /// <summary>Ends the current (or the next) wait early.</summary>
    void Wake();
}
