using XenSharp.Hypervisor.Scheduling;
using Xunit;

namespace XenSharp.Tests.Scheduling;

/// <summary>Warping: low wake-up latency for a latency-sensitive domain, within its warp limit and unwarp requirement.</summary>
public class BvtWarpTests
{
    private const long Ms = 1_000_000;

    // 100 ms of a default domain's running, in virtual time: far more than the 5 ms allowance.
    private static readonly long BigWarp = 1000 * BvtParameters.DefaultMcuAdvance;

    [Fact]
    public void AWarpedIoDomainIsRunAtOnceBesideACpuBoundOne()
    {
        var sim = new SlotSimulation(slots: 1);
        sim.Adjust(2, new BvtParameters { WarpBack = true, WarpValue = BigWarp });
        SimUnit cpu = sim.CpuBound(1);
        SimUnit io = sim.IoBound(2, burstNs: 500_000, blockNs: 2 * Ms);

        sim.RunFor(3_000 * Ms);

        Assert.True(io.WakeLatencies.Count > 100, $"{io.WakeLatencies.Count} wake-ups");
        Assert.All(io.WakeLatencies, l => Assert.Equal(0, l));
        Assert.Equal(3_000 * Ms, sim.RunningNs(cpu) + sim.RunningNs(io)); // and the CPU-bound one has the rest
    }

    // It blocks for less than the allowance: woken, it is not far enough behind the running domain to preempt it.
    [Fact]
    public void WithoutWarpTheSameDomainWaitsUpToTheAllowance()
    {
        var sim = new SlotSimulation(slots: 1);
        sim.CpuBound(1);
        SimUnit io = sim.IoBound(2, burstNs: 500_000, blockNs: 2 * Ms);

        sim.RunFor(3_000 * Ms);

        Assert.True(io.WakeLatencies.Count > 100, $"{io.WakeLatencies.Count} wake-ups");
        Assert.Contains(io.WakeLatencies, l => l > 0);
        Assert.All(io.WakeLatencies, l => Assert.InRange(l, 0, BvtScheduler.DefaultContextSwitchAllowanceNs));
    }

    [Fact]
    public void AWarpedUnitLosesItsWarpAtTheLimitAndRegainsItOnlyAfterTheUnwarpRequirement()
    {
        var bvt = new BvtScheduler(slotCount: 1);
        Assert.Equal(0, bvt.AdjustDomain(1, new BvtParameters
        {
            WarpBack = true, WarpValue = BigWarp, WarpLimitNs = 10 * Ms, UnwarpRequirementNs = 50 * Ms,
        }));
        var unit = new SchedUnit(1, 0);
        long t = 0;
        bvt.InsertUnit(unit, t);

        bvt.Wake(unit, t);
        Assert.True(bvt.IsWarped(unit));
        Assert.Equal(bvt.ActualVirtualTime(unit) - BigWarp, bvt.EffectiveVirtualTime(unit));
        TaskSlice slice = bvt.DoSchedule(0, t);
        Assert.Same(unit, slice.Next);
        Assert.Equal(10 * Ms, slice.DurationNs); // the slice ends at the warp limit

        t += 4 * Ms;
        bvt.DoSchedule(0, t); // still within the limit
        Assert.True(bvt.IsWarped(unit));
        t += 6 * Ms;
        slice = bvt.DoSchedule(0, t);
        Assert.False(bvt.IsWarped(unit));
        Assert.Equal(bvt.ActualVirtualTime(unit), bvt.EffectiveVirtualTime(unit));
        Assert.Equal(50 * Ms, slice.DurationNs); // unwarped, alone: Xen's 10 × ctx_allow

        t += 1 * Ms;
        bvt.Sleep(unit, t);
        bvt.DoSchedule(0, t);
        t += 30 * Ms; // 31 ms after losing the warp: too soon
        bvt.Wake(unit, t);
        Assert.False(bvt.IsWarped(unit));
        bvt.DoSchedule(0, t);

        t += 1 * Ms;
        bvt.Sleep(unit, t);
        bvt.DoSchedule(0, t);
        t += 18 * Ms; // 50 ms after
        bvt.Wake(unit, t);
        Assert.True(bvt.IsWarped(unit));
    }

    [Fact]
    public void BlockingEndsAWarpWithoutTheUnwarpRequirement()
    {
        var bvt = new BvtScheduler(slotCount: 1);
        Assert.Equal(0, bvt.AdjustDomain(1, new BvtParameters
        {
            WarpBack = true, WarpValue = BigWarp, WarpLimitNs = 10 * Ms, UnwarpRequirementNs = 50 * Ms,
        }));
        var unit = new SchedUnit(1, 0);
        bvt.InsertUnit(unit, 0);
        bvt.Wake(unit, 0);
        bvt.DoSchedule(0, 0);

        bvt.Sleep(unit, 9 * Ms);
        Assert.False(bvt.IsWarped(unit));
        bvt.DoSchedule(0, 9 * Ms);
        bvt.Wake(unit, 10 * Ms);

        Assert.True(bvt.IsWarped(unit));
    }

    [Fact]
    public void AWarpedCpuHogGetsOnlyItsShareOnceItsWarpRunsOut()
    {
        var sim = new SlotSimulation(slots: 1);
        sim.Adjust(1, new BvtParameters { WarpBack = true, WarpValue = BigWarp, WarpLimitNs = 20 * Ms, UnwarpRequirementNs = 100 * Ms });
        SimUnit hog = sim.CpuBound(1);
        SimUnit other = sim.CpuBound(2);

        sim.RunFor(4_000 * Ms);

        // It never blocks, so it warps once, for 20 ms, and never again.
        Assert.InRange(sim.RunningNs(hog), 1_800 * Ms, 2_200 * Ms);
        Assert.InRange(sim.RunningNs(other), 1_800 * Ms, 2_200 * Ms);
    }

    [Fact]
    public void TurningWarpOffUnwarpsAtOnce()
    {
        var bvt = new BvtScheduler(slotCount: 1);
        Assert.Equal(0, bvt.AdjustDomain(1, new BvtParameters { WarpBack = true, WarpValue = BigWarp }));
        var unit = new SchedUnit(1, 0);
        bvt.InsertUnit(unit, 0);
        bvt.Wake(unit, 0);
        Assert.True(bvt.IsWarped(unit));

        Assert.Equal(0, bvt.AdjustDomain(1, new BvtParameters()));

        Assert.False(bvt.IsWarped(unit));
    }
}
