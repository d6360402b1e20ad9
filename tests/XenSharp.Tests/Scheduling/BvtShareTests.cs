using XenSharp.Hypervisor.Scheduling;
using Xunit;
using Xunit.Abstractions;

namespace XenSharp.Tests.Scheduling;

/// <summary>CPU shares under BVT, measured from runstate over simulated runs on a fake clock.</summary>
public class BvtShareTests(ITestOutputHelper output)
{
    private const long Ms = 1_000_000;
    private const long Second = 1_000 * Ms;

    [Fact]
    public void Weights1To3GiveShares1To3OnOneSlot()
    {
        var sim = new SlotSimulation(slots: 1);
        sim.Adjust(1, new BvtParameters { McuAdvance = BvtParameters.McuAdvanceOfWeight(256) });
        sim.Adjust(2, new BvtParameters { McuAdvance = BvtParameters.McuAdvanceOfWeight(768) });
        SimUnit light = sim.CpuBound(1);
        SimUnit heavy = sim.CpuBound(2);

        sim.RunFor(10 * Second);

        double ratio = (double)sim.RunningNs(heavy) / sim.RunningNs(light);
        output.WriteLine($"weights 256:768 on one slot for 10 s: running {sim.RunningNs(light)} ns : {sim.RunningNs(heavy)} ns = 1:{ratio:F3}");
        Assert.InRange(ratio, 3 * 0.9, 3 * 1.1);
        Assert.Equal(10 * Second, sim.RunningNs(light) + sim.RunningNs(heavy)); // the slot never idled
        Assert.Equal(0, sim.IdleWhileRunnable);
    }

    [Fact]
    public void McuAdvancesInverselyGiveTheSameShares()
    {
        var sim = new SlotSimulation(slots: 1);
        sim.Adjust(1, new BvtParameters { McuAdvance = 30 * BvtParameters.Unit }); // xm sched-bvt 1 30 ...
        sim.Adjust(2, new BvtParameters { McuAdvance = 10 * BvtParameters.Unit });
        SimUnit slow = sim.CpuBound(1);
        SimUnit fast = sim.CpuBound(2);

        sim.RunFor(10 * Second);

        Assert.InRange((double)sim.RunningNs(fast) / sim.RunningNs(slow), 2.7, 3.3);
    }

    [Fact]
    public void ThreeEqualUnitsOnTwoSlotsShareTwoSlotsEvenly()
    {
        var sim = new SlotSimulation(slots: 2);
        SimUnit[] units = [sim.CpuBound(1), sim.CpuBound(2), sim.CpuBound(3)];

        sim.RunFor(10 * Second);

        foreach (SimUnit u in units)
            Assert.InRange(sim.RunningNs(u), (long)(20.0 / 3 * Second * 0.9), (long)(20.0 / 3 * Second * 1.1));
        Assert.Equal(20 * Second, units.Sum(sim.RunningNs));
        Assert.Equal(0, sim.IdleWhileRunnable);
    }

    [Fact]
    public void WaitingForASlotIsReportedAsRunnableTime()
    {
        var sim = new SlotSimulation(slots: 1);
        SimUnit a = sim.CpuBound(1);
        SimUnit b = sim.CpuBound(2);
        long start = sim.Now;

        sim.RunFor(2 * Second);

        foreach (SimUnit u in new[] { a, b })
        {
            UnitRunstate r = sim.Slots.Runstate(u.Unit);
            Assert.Equal(sim.Now - start, r.RunningNs + r.RunnableNs);
            Assert.InRange(r.RunnableNs, (long)(0.9 * Second), (long)(1.1 * Second));
            Assert.Equal(0, r.BlockedNs);
        }
    }

    [Fact]
    public void AUnitAloneOnItsSlotNeverWaits()
    {
        var sim = new SlotSimulation(slots: 2);
        SimUnit cpu = sim.CpuBound(1);
        SimUnit io = sim.IoBound(2, burstNs: 300_000, blockNs: 3 * Ms);

        sim.RunFor(2 * Second);

        Assert.Equal(0, sim.Slots.Runstate(cpu.Unit).RunnableNs);
        Assert.Equal(0, sim.Slots.Runstate(io.Unit).RunnableNs);
        Assert.All(io.WakeLatencies, l => Assert.Equal(0, l));
        Assert.Equal(0, sim.IdleWhileRunnable);
    }

    [Fact]
    public void AnIdleSlotIsNeverLeftIdleWhileAUnitWaits()
    {
        var sim = new SlotSimulation(slots: 2);
        sim.CpuBound(1);
        sim.IoBound(2, burstNs: 700_000, blockNs: 2 * Ms);
        sim.IoBound(3, burstNs: 4 * Ms, blockNs: 1 * Ms);
        sim.IoBound(4, burstNs: 150_000, blockNs: 9 * Ms);

        sim.RunFor(5 * Second);

        Assert.Equal(0, sim.IdleWhileRunnable);
    }

    [Fact]
    public void AfterALongBlockAUnitGetsItsShareNotTheTimeItMissed()
    {
        var sim = new SlotSimulation(slots: 1);
        SimUnit sleeper = sim.CpuBound(1);
        SimUnit other = sim.CpuBound(2);
        sim.RunFor(1 * Second);
        sim.Block(sleeper);
        sim.RunFor(5 * Second);
        long sleeperBefore = sim.RunningNs(sleeper), otherBefore = sim.RunningNs(other);

        sim.WakeUp(sleeper);
        sim.RunFor(2 * Second);

        long sleeperRan = sim.RunningNs(sleeper) - sleeperBefore;
        long otherRan = sim.RunningNs(other) - otherBefore;
        Assert.Equal(2 * Second, sleeperRan + otherRan);
        Assert.InRange(sleeperRan, (long)(0.9 * Second), (long)(1.1 * Second)); // half, not 5 s of saved credit
    }
}
