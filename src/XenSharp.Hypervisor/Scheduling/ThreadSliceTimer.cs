using XenSharp.Hypervisor.Time;

namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// The slice timer on the host: one thread that sleeps until the earliest armed deadline on the clock and then
/// reports each slot whose deadline has passed. Invariant: deadlines under <see cref="_lock"/>; the callback runs on
/// the timer thread with no lock held.
/// </summary>
internal sealed class ThreadSliceTimer : ISliceTimer, IDisposable
{
    private readonly object _lock = new();
    private readonly IHostClock _clock;
    private readonly long[] _deadline;
    private readonly Action<int> _expired;
    private readonly Thread _thread;
    private bool _stopping;

    /// <param name="expired">Called with a slot whose deadline passed (<see cref="SlotAllocator.SliceTimerFired"/>).</param>
    public ThreadSliceTimer(int slots, IHostClock clock, Action<int> expired)
    {
        _clock = clock;
        _expired = expired;
        _deadline = new long[slots];
        Array.Fill(_deadline, long.MaxValue);
        _thread = new Thread(Run) { IsBackground = true, Name = "slice timer" };
        _thread.Start();
    }

    public void Arm(int slot, long deadlineNs)
    {
        lock (_lock)
        {
            _deadline[slot] = deadlineNs;
            Monitor.Pulse(_lock);
        }
    }

    public void Cancel(int slot)
    {
        lock (_lock)
            _deadline[slot] = long.MaxValue;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _stopping = true;
            Monitor.Pulse(_lock);
        }

        if (Thread.CurrentThread != _thread)
            _thread.Join();
    }

    private void Run()
    {
        var due = new List<int>();
        while (true)
        {
            lock (_lock)
            {
                while (true)
                {
                    if (_stopping)
                        return;
                    long now = _clock.NowNanoseconds;
                    long earliest = long.MaxValue;
                    for (int s = 0; s < _deadline.Length; s++)
                    {
                        if (_deadline[s] <= now)
                        {
                            _deadline[s] = long.MaxValue;
                            due.Add(s);
                        }
                        else
                        {
                            earliest = Math.Min(earliest, _deadline[s]);
                        }
                    }

                    if (due.Count > 0)
                        break;
                    if (earliest == long.MaxValue)
                        Monitor.Wait(_lock);
                    else
                        Monitor.Wait(_lock, TimeSpan.FromTicks(Math.Max(1, Math.Min((earliest - now + 99) / 100, int.MaxValue))));
                }
            }

            foreach (int slot in due)
                _expired(slot);
            due.Clear();
        }
    }
}
