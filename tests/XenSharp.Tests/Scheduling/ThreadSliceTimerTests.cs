using XenSharp.Hypervisor.Scheduling;
using XenSharp.Hypervisor.Time;
using Xunit;

namespace XenSharp.Tests.Scheduling;

/// <summary>The host slice timer reports a passed deadline on its own thread; no assertion depends on how soon.</summary>
public class ThreadSliceTimerTests
{
    [Fact]
    public void APassedDeadlineIsReportedForItsSlot()
    {
        var fired = new System.Collections.Concurrent.BlockingCollection<int>();
        using var timer = new ThreadSliceTimer(3, HostClock.Instance, fired.Add);

        timer.Arm(1, HostClock.Instance.NowNanoseconds + 1_000_000);
        timer.Arm(2, long.MaxValue);

        Assert.True(fired.TryTake(out int slot, TimeSpan.FromSeconds(60)));
        Assert.Equal(1, slot);
    }

    [Fact]
    public void ADeadlineAlreadyPassedIsReportedAtOnceAndOnce()
    {
        var fired = new System.Collections.Concurrent.BlockingCollection<int>();
        var clock = new Time.FakeClock();
        using var timer = new ThreadSliceTimer(2, clock, fired.Add);

        timer.Arm(0, clock.NowNanoseconds);

        Assert.True(fired.TryTake(out int slot, TimeSpan.FromSeconds(60)));
        Assert.Equal(0, slot);
        timer.Arm(1, clock.NowNanoseconds - 1);
        Assert.True(fired.TryTake(out slot, TimeSpan.FromSeconds(60)));
        Assert.Equal(1, slot); // slot 0 was reported once, not again
    }
}
