using XenSharp.Hypervisor.Scheduling;
using Xunit;

namespace XenSharp.Tests.Scheduling;

/// <summary>What a wake-up does: the order woken units run in, and when they preempt the running one.</summary>
public class BvtWakeTests
{
    private const long Ms = 1_000_000;
    private static readonly long Allowance = 50 * BvtParameters.DefaultMcuAdvance; // 5 ms at the default advance

    private readonly BvtScheduler _bvt = new(slotCount: 1);
    private readonly SchedUnit _running = new(1, 0);
    private readonly SchedUnit _a = new(2, 0);
    private readonly SchedUnit _b = new(3, 0);

    public BvtWakeTests()
    {
        foreach (SchedUnit u in new[] { _running, _a, _b })
            _bvt.InsertUnit(u, 0);
        _bvt.Wake(_running, 0);
        Assert.Same(_running, _bvt.DoSchedule(0, 0).Next);
    }

    [Fact]
    public void UnitsWokenWithEqualVirtualTimesRunInWakeOrder()
    {
        _bvt.Wake(_b, 0);
        _bvt.Wake(_a, 0);
        _bvt.Sleep(_running, Ms);

        Assert.Same(_b, _bvt.DoSchedule(0, Ms).Next);
        _bvt.Sleep(_b, 2 * Ms);
        Assert.Same(_a, _bvt.DoSchedule(0, 2 * Ms).Next);
    }

    [Fact]
    public void ALaterWakerWithLessEffectiveVirtualTimeRunsFirst()
    {
        Assert.Equal(0, _bvt.AdjustDomain(2, new BvtParameters { WarpBack = true, WarpValue = Allowance / 2 }));
        _bvt.Wake(_b, 0);
        _bvt.Wake(_a, 0);
        _bvt.Sleep(_running, Ms);

        Assert.Same(_a, _bvt.DoSchedule(0, Ms).Next);
    }

    [Fact]
    public void AWakerAheadByMoreThanTheAllowancePreemptsAtOnce()
    {
        Assert.Equal(0, _bvt.AdjustDomain(2, new BvtParameters { WarpBack = true, WarpValue = Allowance + 1 }));

        Assert.Equal(WakeDecision.Preempt(0), _bvt.Wake(_a, 0));
    }

    [Fact]
    public void AWakerAheadByLessThanTheAllowanceShortensTheSlice()
    {
        Assert.Equal(0, _bvt.AdjustDomain(2, new BvtParameters { WarpBack = true, WarpValue = Allowance / 2 }));

        // The running unit may go on until its EVT passes the waker's by the allowance: 2.5 ms more.
        Assert.Equal(WakeDecision.ShortenSlice(0, 2_500_000), _bvt.Wake(_a, 0));
    }

    [Fact]
    public void TheRunningUnitsTimeSoFarCountsAgainstIt()
    {
        // 6 ms into its slice the running unit is 60 MCUs ahead of the system virtual time the waker gets.
        Assert.Equal(WakeDecision.Preempt(0), _bvt.Wake(_a, 6 * Ms));
    }

    [Fact]
    public void AWakerPreemptsTheSlotWhoseUnitIsFurthestAhead()
    {
        var bvt = new BvtScheduler(slotCount: 2);
        SchedUnit first = new(1, 0), second = new(2, 0), waker = new(3, 0);
        foreach (SchedUnit u in new[] { first, second, waker })
            bvt.InsertUnit(u, 0);
        Assert.Equal(0, bvt.AdjustDomain(2, new BvtParameters { McuAdvance = 100 * BvtParameters.DefaultMcuAdvance }));
        Assert.Equal(WakeDecision.Preempt(0), bvt.Wake(first, 0)); // an idle slot
        Assert.Same(first, bvt.DoSchedule(0, 0).Next);
        Assert.Equal(WakeDecision.Preempt(1), bvt.Wake(second, 0)); // the other idle slot
        Assert.Same(second, bvt.DoSchedule(1, 0).Next);

        // After 6 ms, the slow-advancing unit in slot 1 is 100 times further ahead, and past its (larger) allowance.
        Assert.Equal(WakeDecision.Preempt(1), bvt.Wake(waker, 6 * Ms));
    }

    [Fact]
    public void AWakeOfARunnableUnitChangesNothing()
    {
        Assert.Equal(WakeDecision.None, _bvt.Wake(_running, Ms));
    }
}
