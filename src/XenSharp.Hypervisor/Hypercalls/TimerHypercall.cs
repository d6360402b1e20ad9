using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Time;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>set_timer_op(timeout): the calling vCPU's single-shot timer, in system time (Xen's do_set_timer_op).</summary>
internal static class TimerHypercall
{
    /// <summary>Deadlines further out than this (about 13 days) are taken for a guest's wrapped jiffies.</summary>
    private const ulong MaxOffsetNs = 1UL << 50;

    /// <summary>Where Xen puts such a deadline instead: not never (the guest may have work), not now (it may have none).</summary>
    private const ulong HugeTimeoutFallbackNs = 100_000_000;

    public static long SetTimerOp(Vcpu vcpu, ulong timeout, ulong a2, ulong a3, ulong a4, ulong a5)
    {
        if (timeout == 0)
        {
            vcpu.Timers.StopSingleshot();
            return 0;
        }

        TimePoint now = vcpu.Now();
        ulong nowSys = now.SystemNs;
        if ((long)timeout < 0 || (timeout > nowSys && timeout - nowSys >= MaxOffsetNs))
        {
            vcpu.Domain.Log.Limited($"d{vcpu.Domain.Id}-huge-timeout",
                $"(d{vcpu.Domain.Id}v{vcpu.Id}) set_timer_op: huge timeout {timeout:x}: firing in 100 ms");
            timeout = nowSys + HugeTimeoutFallbackNs;
        }

        vcpu.Timers.SetSingleshot(timeout, now);
        return 0;
    }
}
