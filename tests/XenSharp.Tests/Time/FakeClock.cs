using XenSharp.Hypervisor.Time;

namespace XenSharp.Tests.Time;

/// <summary>A host clock the test moves by hand.</summary>
internal sealed class FakeClock : IHostClock
{
    public long NowNanoseconds { get; set; } = 1_000_000_000;

    public void Advance(long ns) => NowNanoseconds += ns;
}
