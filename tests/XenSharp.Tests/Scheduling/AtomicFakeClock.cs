using XenSharp.Hypervisor.Time;

namespace XenSharp.Tests.Scheduling;

/// <summary>A fake clock several threads may move at once.</summary>
internal sealed class AtomicFakeClock : IHostClock
{
    private long _now = 1_000_000_000;

    public long NowNanoseconds => Interlocked.Read(ref _now);

    public void Advance(long ns) => Interlocked.Add(ref _now, ns);
}
