using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Time;

/// <summary>
/// A vCPU's Xen timers, each sending VIRQ_TIMER when it expires: the single-shot timer (set_timer_op,
/// VCPUOP_set_singleshot_timer), the periodic timer (VCPUOP_set_periodic_timer; PV vCPUs start with 10 ms) and the
/// SCHEDOP_poll timeout. Deadlines are system time; they become host-clock deadlines through a TSC sample taken on the
/// vCPU's thread when the timer is set, so only the timer's own interval is measured by the host clock.
/// As in Xen, the periodic timer does not run while the vCPU is blocked (Xen stops it when the vCPU is descheduled):
/// a period that ends then is delivered when the vCPU wakes (<see cref="OnWake"/>).
/// Invariant: the periodic fields change only under <see cref="_lock"/>; the set/stop calls come from the vCPU's own
/// thread (or the toolstack before it runs), expiry from the timer thread.
/// </summary>
internal sealed class VcpuTimers
{
    /// <summary>Xen's default period for a PV vCPU: a 100 Hz ticker.</summary>
    public const ulong DefaultPeriodNs = 10_000_000;

    // Timers are set from a TSC sample and run on the host clock, which NTP may slew by up to 500 ppm: a little slack
    // keeps a timer from firing before the guest's own clock reaches the deadline.
    private const long SlackNs = 2_000;
    private const long SlackDivisor = 1_000;

    private readonly object _lock = new();
    private readonly Vcpu _vcpu;
    private readonly TimerQueue _queue;
    private readonly HostTimer _singleshot;
    private readonly HostTimer _periodic;
    private readonly HostTimer _poll;
    private ulong _period = DefaultPeriodNs;
    private ulong _periodicLast;
    private ulong _periodicNext;
    private bool _periodicMissed;
    private long _periodicHostNext;

    public VcpuTimers(Vcpu vcpu, TimerQueue queue)
    {
        _vcpu = vcpu;
        _queue = queue;
        _singleshot = new HostTimer(SendTimerEvent, $"{vcpu} singleshot");
        _periodic = new HostTimer(FirePeriodic, $"{vcpu} periodic");
        _poll = new HostTimer(vcpu.WakeFromPoll, $"{vcpu} poll");
    }

    /// <summary>The periodic timer's period in ns (0 = stopped).</summary>
    public ulong PeriodNs
    {
        get
        {
            lock (_lock)
            {
                return _period;
            }
        }
    }

    public bool SingleshotArmed => _queue.IsArmed(_singleshot);

    /// <summary>
    /// Arms the single-shot timer for system time <paramref name="deadline"/>; a deadline already passed sends the event
    /// now (current Xen's VCPUOP_set_singleshot_timer and set_timer_op alike). Returns false if it had passed.
    /// </summary>
    public bool SetSingleshot(ulong deadline, TimePoint now)
    {
        ulong nowSys = now.SystemNs;
        if (deadline <= nowSys)
        {
            _queue.Cancel(_singleshot);
            SendTimerEvent();
            return false;
        }

        _queue.Arm(_singleshot, HostDeadline(now, deadline - nowSys));
        return true;
    }

    public void StopSingleshot() => _queue.Cancel(_singleshot);

    /// <summary>Sets (period &gt; 0) or stops (0) the periodic timer; setting it runs Xen's periodic work at once.</summary>
    public void SetPeriodic(ulong period, TimePoint now)
    {
        lock (_lock)
        {
            _queue.Cancel(_periodic);
            _period = period;
            _periodicMissed = false;
            if (period != 0)
            {
                PeriodicWorkLocked(now);
            }
        }
    }

    /// <summary>The vCPU starts running (VCPUOP_up, domain start): its periodic timer starts, if it has one.</summary>
    public void OnStart(TimePoint now)
    {
        lock (_lock)
        {
            if (_period != 0)
            {
                PeriodicWorkLocked(now);
            }
        }
    }

    /// <summary>The vCPU stopped blocking: a period that ended meanwhile sends its event now, and the timer runs on.</summary>
    public void OnWake(TimePoint now)
    {
        lock (_lock)
        {
            if (_periodicMissed && _period != 0)
            {
                _periodicMissed = false;
                PeriodicWorkLocked(now);
            }
        }
    }

    /// <summary>Arms the SCHEDOP_poll timeout (system time); 0 = no timeout.</summary>
    public void SetPollTimeout(ulong deadline, TimePoint now)
    {
        if (deadline == 0)
        {
            _queue.Cancel(_poll);
            return;
        }

        ulong nowSys = now.SystemNs;
        _queue.Arm(_poll, deadline <= nowSys ? now.HostNs : HostDeadline(now, deadline - nowSys));
    }

    public void StopPoll() => _queue.Cancel(_poll);

    /// <summary>The vCPU goes down or the domain ends: nothing more fires for it.</summary>
    public void StopAll()
    {
        _queue.Cancel(_singleshot);
        _queue.Cancel(_poll);
        lock (_lock)
        {
            _queue.Cancel(_periodic);
            _periodicMissed = false;
        }
    }

    /// <summary>Xen's vcpu_periodic_timer_work: a period that has ended sends its event; the timer is armed for the next.</summary>
    private void PeriodicWorkLocked(TimePoint now)
    {
        ulong nowSys = now.SystemNs;
        _periodicNext = _periodicLast + _period;
        if (nowSys >= _periodicNext)
        {
            SendTimerEvent();
            _periodicLast = nowSys;
            _periodicNext = nowSys + _period;
        }

        _periodicHostNext = HostDeadline(now, _periodicNext - nowSys);
        _queue.Arm(_periodic, _periodicHostNext);
    }

    private void FirePeriodic()
    {
        lock (_lock)
        {
            if (_period == 0)
            {
                return;
            }

            if (_vcpu.IsBlocked)
            {
                _periodicMissed = true; // descheduled: delivered and re-armed when it wakes
                return;
            }

            // The host deadline was the host time of _periodicNext: that is now, give or take the queue's latency.
            SendTimerEvent();
            _periodicLast = _periodicNext;
            _periodicNext += _period;
            long late = Math.Max(0, _queue.Clock.NowNanoseconds - _periodicHostNext);
            _periodicHostNext += (long)_period;
            if (late > (long)_period)
            {
                // Far behind (a stalled host): skip the lost periods instead of firing them back to back.
                ulong skip = (ulong)late / _period;
                _periodicLast += skip * _period;
                _periodicNext += skip * _period;
                _periodicHostNext += (long)(skip * _period);
            }

            _queue.Arm(_periodic, _periodicHostNext);
        }
    }

    private long HostDeadline(TimePoint now, ulong deltaNs)
    {
        long delta = (long)Math.Min(deltaNs, (ulong)long.MaxValue / 4);
        long deadline = now.HostNs + delta + (delta / SlackDivisor) + SlackNs;
        return deadline;
    }

    private void SendTimerEvent() => _vcpu.Domain.Events.SendVirq(_vcpu, Events.Virq.Timer);
}
