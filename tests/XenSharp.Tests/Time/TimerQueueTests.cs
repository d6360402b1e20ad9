using XenSharp.Hypervisor.Logging;
using XenSharp.Hypervisor.Time;
using Xunit;

namespace XenSharp.Tests.Time;

public class TimerQueueTests
{
    private readonly FakeClock _clock = new();
    private readonly List<string> _fired = new();
    private readonly TimerQueue _q;

    public TimerQueueTests() => _q = new TimerQueue(_clock, ownThread: false);

    private HostTimer Timer(string name) => new(() => _fired.Add(name), name);

    [Fact]
    public void FiresDueTimersInDeadlineOrderAndNothingEarly()
    {
        HostTimer a = Timer("a"), b = Timer("b"), c = Timer("c");
        _q.Arm(c, 300);
        _q.Arm(a, 100);
        _q.Arm(b, 200);
        Assert.Equal(0, _q.RunDue(99));
        Assert.Equal(2, _q.RunDue(200));
        Assert.Equal(["a", "b"], _fired);
        Assert.False(_q.IsArmed(a));
        Assert.True(_q.IsArmed(c));
        Assert.Equal(1, _q.RunDue(1000));
        Assert.Equal(["a", "b", "c"], _fired);
    }

    [Fact]
    public void RearmMovesTheDeadlineAndCancelDisarms()
    {
        HostTimer a = Timer("a"), b = Timer("b");
        _q.Arm(a, 100);
        _q.Arm(a, 500);    // the entry at 100 is stale now
        _q.Arm(b, 200);
        _q.Cancel(b);
        Assert.Equal(0, _q.RunDue(400));
        Assert.Equal(1, _q.RunDue(500));
        Assert.Equal(["a"], _fired);
        Assert.Equal(0, _q.RunDue(long.MaxValue));
    }

    [Fact]
    public void ACallbackMayRearmItsOwnTimer()
    {
        HostTimer? t = null;
        int n = 0;
        t = new HostTimer(() => { n++; if (n < 3) _q.Arm(t!, 100 * (n + 1)); }, "periodic");
        _q.Arm(t, 100);
        _q.RunDue(100);
        _q.RunDue(200);
        _q.RunDue(300);
        Assert.Equal(3, n);
        Assert.False(_q.IsArmed(t));
    }

    [Fact]
    public void AThrowingCallbackIsLoggedAndTheOthersStillRun()
    {
        var log = new StringWriter();
        var q = new TimerQueue(_clock, new HypervisorLog(log), ownThread: false);
        q.Arm(new HostTimer(() => throw new InvalidOperationException("boom"), "bad"), 10);
        q.Arm(Timer("good"), 20);
        Assert.Equal(2, q.RunDue(20));
        Assert.Equal(["good"], _fired);
        Assert.Contains("timer bad: InvalidOperationException: boom", log.ToString());
    }

    [Fact]
    public void TheThreadFiresARealTimer()
    {
        using var q = new TimerQueue(HostClock.Instance);
        using var fired = new ManualResetEventSlim();
        q.Arm(new HostTimer(fired.Set, "real"), HostClock.Instance.NowNanoseconds + 1_000_000);
        Assert.True(fired.Wait(TimeSpan.FromSeconds(10)));
    }
}
