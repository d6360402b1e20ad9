using XenSharp.Hypervisor.Time;
using XenSharp.Kvm;

namespace XenSharp.Hypervisor.Machine;

/// <summary>The core's <see cref="IPreciseWaiter"/> over XenSharp.Kvm's timerfd waiter.</summary>
internal sealed class TimerfdWaiter(PreciseWaiter waiter) : IPreciseWaiter
{
    public static IPreciseWaiter? TryCreate() => PreciseWaiter.TryCreate() is { } w ? new TimerfdWaiter(w) : null;

    public bool WaitUntil(long deadlineNs) => waiter.WaitUntil(deadlineNs);

    public void Wake() => waiter.Wake();

    public void Dispose() => waiter.Dispose();
}
