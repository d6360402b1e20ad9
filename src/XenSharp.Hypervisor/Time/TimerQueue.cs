using XenSharp.Hypervisor.Logging;

namespace XenSharp.Hypervisor.Time;

/// <summary>
/// The hypervisor's timers (Xen's timer heap): one host thread sleeps until the earliest deadline and runs what is due.
/// Invariants: every field of a <see cref="HostTimer"/> and the heap change only under <see cref="_lock"/>; a timer is
/// in the heap at most once per generation, and an entry whose generation is not the timer's current one is stale and
/// skipped (re-arming and cancelling never search the heap). Callbacks run on the queue's thread outside the lock, in
/// deadline order. Precision: the thread sleeps in whole milliseconds, so a timer fires up to ~1 ms late, never early.
/// </summary>
public sealed class TimerQueue : IDisposable
{
    private readonly object _lock = new();
    private readonly PriorityQueue<(HostTimer Timer, long Generation), long> _heap = new();
    private readonly List<HostTimer> _due = new();
    private readonly IHostClock _clock;
    private readonly HypervisorLog? _log;
    private readonly bool _ownThread;
    private Thread? _thread;
    private bool _disposed;

    /// <param name="ownThread">false: nothing runs unless the caller calls <see cref="RunDue"/> (unit tests).</param>
    public TimerQueue(IHostClock clock, HypervisorLog? log = null, bool ownThread = true)
    {
        _clock = clock;
        _log = log;
        _ownThread = ownThread;
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
            lock (_lock)
            {
                while (true)
                {
                    if (_disposed)
                    {
                        return;
                    }

                    long now = _clock.NowNanoseconds;
                    CollectDue(now);
                    if (_due.Count > 0)
                    {
                        break;
                    }

                    if (!_heap.TryPeek(out _, out long next))
                    {
                        Monitor.Wait(_lock);
                        continue;
                    }

                    // Round up: waking early would only spin through another wait.
                    long ms = Math.Max(1, (next - now + 999_999) / 1_000_000);
                    Monitor.Wait(_lock, (int)Math.Min(ms, int.MaxValue));
                }
            }

            FireCollected();
        }
    }

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

        if (t is not null && t != Thread.CurrentThread)
        {
            t.Join(TimeSpan.FromSeconds(5));
        }
    }
}
