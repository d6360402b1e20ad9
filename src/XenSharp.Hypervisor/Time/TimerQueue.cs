using XenSharp.Hypervisor.Logging;

namespace XenSharp.Hypervisor.Time;

/// <summary>
/// The hypervisor's timers (Xen's timer heap): one host thread sleeps until the earliest deadline and runs what is due.
/// Invariants: every field of a <see cref="HostTimer"/> and the heap change only under <see cref="_lock"/>; a timer is
/// in the heap at most once per generation, and an entry whose generation is not the timer's current one is stale and
/// skipped (re-arming and cancelling never search the heap). Callbacks run on the queue's thread outside the lock, in
/// deadline order. Precision: on the real host clock the thread sleeps in a timerfd until the earliest deadline
/// (an <see cref="IPreciseWaiter"/> from the machine layer, a timerfd: the host kernel's own wake-up latency, tens
/// of µs); otherwise (a test clock, no machine, no timerfd) in Monitor.Wait's whole milliseconds. Either way a timer never fires early.
/// </summary>
internal sealed class TimerQueue : IDisposable
{
    private readonly object _lock = new();
    private readonly PriorityQueue<(HostTimer Timer, long Generation), long> _heap = new();
    private readonly List<HostTimer> _due = new();
    private readonly IHostClock _clock;
    private readonly HypervisorLog? _log;
    private readonly bool _ownThread;
    private readonly IPreciseWaiter? _waiter;
    private Thread? _thread;
    private bool _disposed;

    /// <param name="ownThread">false: nothing runs unless the caller calls <see cref="RunDue"/> (unit tests).</param>
    /// <param name="preciseWaiter">Makes the waiter for fine sleeps (the machine layer's timerfd); null: Monitor.Wait.</param>
    public TimerQueue(IHostClock clock, HypervisorLog? log = null, bool ownThread = true, Func<IPreciseWaiter?>? preciseWaiter = null)
    {
        _clock = clock;
        _log = log;
        _ownThread = ownThread;
        if (ownThread && clock is HostClock && System.Diagnostics.Stopwatch.Frequency == 1_000_000_000)
        {
            _waiter = preciseWaiter?.Invoke(); // Stopwatch is CLOCK_MONOTONIC in ns here, the timerfd's clock
        }
    }

    public IHostClock Clock => _clock;

    /// <summary>Arms (or re-arms) <paramref name="timer"/> for host-clock time <paramref name="deadlineNs"/>.</summary>
    public void Arm(HostTimer timer, long deadlineNs)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            timer.Generation++;
            timer.Deadline = deadlineNs;
            timer.Armed = true;
            bool earliest = !_heap.TryPeek(out _, out long first) || deadlineNs < first;
            _heap.Enqueue((timer, timer.Generation), deadlineNs);
            if (_ownThread && _thread is null)
            {
                _thread = new Thread(Loop) { Name = "xensharp timers", IsBackground = true };
                _thread.Start();
            }
            else if (earliest)
            {
                Monitor.Pulse(_lock);
                _waiter?.Wake();
            }
        }
    }

    /// <summary>Disarms <paramref name="timer"/>. A callback already running is not stopped.</summary>
    public void Cancel(HostTimer timer)
    {
        lock (_lock)
        {
            timer.Generation++;
            timer.Armed = false;
        }
    }

    public bool IsArmed(HostTimer timer)
    {
        lock (_lock)
        {
            return timer.Armed;
        }
    }

    /// <summary>Runs every timer due at <paramref name="nowNs"/>; returns how many ran.</summary>
    public int RunDue(long nowNs)
    {
        lock (_lock)
        {
            CollectDue(nowNs);
        }

        return FireCollected();
    }

    private void CollectDue(long nowNs)
    {
        _due.Clear();
        while (_heap.TryPeek(out (HostTimer Timer, long Generation) e, out long deadline))
        {
            if (e.Generation != e.Timer.Generation)
            {
                _heap.Dequeue(); // cancelled or re-armed since
                continue;
            }

            if (deadline > nowNs)
            {
                break;
            }

            _heap.Dequeue();
            e.Timer.Armed = false;
            _due.Add(e.Timer);
        }
    }

    private int FireCollected()
    {
        int n = _due.Count;
        for (int i = 0; i < n; i++)
        {
            HostTimer t = _due[i];
            try
            {
                t.Fire();
            }
            catch (Exception e)
            {
                // A timer callback is hypervisor code; a bug in one must not stop every other domain's timers.
                _log?.Write($"timer {t.Name}: {e.GetType().Name}: {e.Message}");
            }
        }

        return n;
    }

    private void Loop()
    {
        while (true)
        {
            long sleepUntil;
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }

                long now = _clock.NowNanoseconds;
                CollectDue(now);
                sleepUntil = _due.Count > 0 ? now : _heap.TryPeek(out _, out long next) ? next : long.MaxValue;
                if (_due.Count == 0 && (_waiter is null || _waiterFailed))
                {
                    // Monitor.Wait: whole milliseconds, rounded up (waking early would only spin through another wait).
                    long ms = sleepUntil == long.MaxValue ? Timeout.Infinite : Math.Max(1, (sleepUntil - now + 999_999) / 1_000_000);
                    Monitor.Wait(_lock, (int)Math.Min(ms, int.MaxValue));
                    continue;
                }
            }

            if (_due.Count > 0)
            {
                FireCollected();
            }
            else if (!_waiter!.WaitUntil(sleepUntil))
            {
                _waiterFailed = true; // fall back to Monitor.Wait from now on
            }
        }
    }

    private volatile bool _waiterFailed;

    public void Dispose()
    {
        Thread? t;
        lock (_lock)
        {
            _disposed = true;
            _heap.Clear();
            Monitor.PulseAll(_lock);
            t = _thread;
        }

        _waiter?.Wake();
        if (t is not null && t != Thread.CurrentThread)
        {
            t.Join(TimeSpan.FromSeconds(5));
        }

        if (t is null || !t.IsAlive)
        {
            _waiter?.Dispose();
        }
    }
}
