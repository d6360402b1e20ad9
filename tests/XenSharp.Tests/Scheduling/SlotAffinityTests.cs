using XenSharp.Abi;
using XenSharp.Hypervisor.Scheduling;
using XenSharp.Tests.Time;
using Xunit;

namespace XenSharp.Tests.Scheduling;

/// <summary>
/// Hard affinity (xl vcpu-pin) on the fake clock: a unit holds only slots in its affinity, units pinned together
/// share their slot by BVT weight, no slot idles while a runnable unit may run on it, an affinity change that excludes
/// a running unit's slot moves it at its next entry, and bad sets are -EINVAL.
/// </summary>
public sealed class SlotAffinityTests
{
    private const long Ms = 1_000_000;
    private const long Second = 1_000 * Ms;

    [Fact]
    public void PinnedUnitsNeverHoldOtherSlots()
    {
        var sim = new SlotSimulation(slots: 3);
        SimUnit a = sim.CpuBound(1), b = sim.CpuBound(2), c = sim.CpuBound(3), d = sim.IoBound(4, 2 * Ms, 3 * Ms);
        Pin(sim, a, 0);
        Pin(sim, b, 1, 2);
        int[] held = new int[3];
        for (int step = 0; step < 2000; step++)
        {
            sim.RunFor(Ms);
            for (int s = 0; s < 3; s++)
            {
                SchedUnit? h = sim.Slots.Holder(s);
                Assert.True(h != a.Unit || s == 0, $"a held slot {s}");
                Assert.True(h != b.Unit || s != 0, "b held slot 0");
                if (h == b.Unit)
                    held[s]++;
            }

            AssertWorkConserving(sim, a, b, c, d);
        }

        Assert.True(sim.RunningNs(a) > 0 && sim.RunningNs(b) > 0 && sim.RunningNs(c) > 0 && sim.RunningNs(d) > 0);
        Assert.True(held[1] + held[2] > 0);
    }

    [Fact]
    public void TwoUnitsPinnedToOneSlotShareItByWeightWhileAnotherSlotIdles()
    {
        var sim = new SlotSimulation(slots: 2);
        sim.Adjust(1, new BvtParameters { McuAdvance = BvtParameters.McuAdvanceOfWeight(256) });
        sim.Adjust(2, new BvtParameters { McuAdvance = BvtParameters.McuAdvanceOfWeight(768) });
        SimUnit light = sim.CpuBound(1), heavy = sim.CpuBound(2);
        Pin(sim, light, 0);
        Pin(sim, heavy, 0);
        long start = sim.RunningNs(light) + sim.RunningNs(heavy);

        for (int step = 0; step < 100; step++)
        {
            sim.RunFor(100 * Ms);
            Assert.Null(sim.Slots.Holder(1)); // idle: neither may run there
        }

        double ratio = (double)sim.RunningNs(heavy) / sim.RunningNs(light);
        Assert.InRange(ratio, 3 * 0.9, 3 * 1.1);
        Assert.Equal(10 * Second, sim.RunningNs(light) + sim.RunningNs(heavy) - start); // slot 0 never idled
    }

    [Fact]
    public void NoSlotIdlesWhileARunnableUnitMayRunOnItWithMixedAffinities()
    {
        var sim = new SlotSimulation(slots: 2);
        SimUnit pinned0 = sim.CpuBound(1), pinned1 = sim.IoBound(2, 1 * Ms, 4 * Ms), free = sim.CpuBound(3), io = sim.IoBound(4, 3 * Ms, 2 * Ms);
        Pin(sim, pinned0, 0);
        Pin(sim, pinned1, 1);
        for (int step = 0; step < 3000; step++)
        {
            sim.RunFor(Ms / 3);
            AssertWorkConserving(sim, pinned0, pinned1, free, io);
        }

        // The unit free to run anywhere takes slot 1 whenever the one pinned there blocks.
        Assert.True(sim.RunningNs(free) > Second / 10);
    }

    [Fact]
    public void AnAffinityChangeWhileRunningPreemptsAndMovesTheUnitAtItsNextEntry()
    {
        var clock = new FakeClock();
        var sink = new RecordingPreemptSink();
        var slots = new SlotAllocator(new BvtScheduler(2), clock, new FakeSliceTimer(2), sink);
        SchedUnit u = new(1, 0);
        slots.Add(u);
        Assert.True(slots.TryEnterRun(u));
        Assert.Equal(u, slots.Holder(0));

        Assert.Equal(0, slots.SetAffinity(u, new HashSet<int> { 1 }, null));
        Assert.True(sink.Kicked.TryTake(out SchedUnit? kicked));
        Assert.Equal(u, kicked);
        Assert.Equal(u, slots.Holder(0)); // still holds it until its thread comes back
        Assert.True(u.PreemptPending);

        clock.Advance(Ms);
        Assert.True(slots.TryEnterRun(u));
        Assert.Null(slots.Holder(0));
        Assert.Equal(u, slots.Holder(1));
        AssertAffinity(slots, u, [1], null);

        Assert.Equal(0, slots.SetAffinity(u, new HashSet<int> { 0, 1 }, new HashSet<int> { 0 })); // its slot stays allowed
        Assert.False(sink.Kicked.TryTake(out _));
        AssertAffinity(slots, u, null, [0]); // every slot is stored as "all"
    }

    [Fact]
    public void AMovedUnitWaitsForASlotItMayHoldAndGetsOneWhenItsHolderBlocks()
    {
        var clock = new FakeClock();
        var sink = new RecordingPreemptSink();
        var slots = new SlotAllocator(new BvtScheduler(2), clock, new FakeSliceTimer(2), sink);
        SchedUnit a = new(1, 0), b = new(2, 0);
        slots.Add(a);
        slots.Add(b);
        Assert.True(slots.TryEnterRun(a));
        Assert.True(slots.TryEnterRun(b));
        Assert.Equal(b, slots.Holder(1));

        Assert.Equal(0, slots.SetAffinity(a, new HashSet<int> { 1 }, null));
        Assert.False(slots.TryEnterRun(a)); // hands slot 0 over: nobody else may take it, it idles
        Assert.Null(slots.Holder(0));
        Assert.Equal(RunState.Runnable, slots.Runstate(a).State);

        slots.Block(b);
        Assert.Equal(a, slots.Holder(1));
        slots.Wake(b);
        Assert.True(slots.TryEnterRun(b)); // b may run anywhere: slot 0 was idle
        Assert.Equal(b, slots.Holder(0));
    }

    [Fact]
    public void ARunnableUnitTakesAnIdleSlotItIsNewlyAllowed()
    {
        var clock = new FakeClock();
        var sink = new RecordingPreemptSink();
        var slots = new SlotAllocator(new BvtScheduler(2), clock, new FakeSliceTimer(2), sink);
        SchedUnit a = new(1, 0), b = new(2, 0);
        slots.Add(a);
        slots.Add(b);
        Assert.Equal(0, slots.SetAffinity(a, new HashSet<int> { 0 }, null));
        Assert.Equal(0, slots.SetAffinity(b, new HashSet<int> { 0 }, null));
        Assert.True(slots.TryEnterRun(a));
        Assert.False(slots.TryEnterRun(b));
        Assert.Null(slots.Holder(1));

        Assert.Equal(0, slots.SetAffinity(b, null, null));
        Assert.Equal(b, slots.Holder(1));
        Assert.True(slots.TryEnterRun(b));
    }

    [Fact]
    public void EmptySetsAndSlotsBeyondTheCountAreEinvalAndChangeNothing()
    {
        var slots = new SlotAllocator(new BvtScheduler(2), new FakeClock(), new FakeSliceTimer(2), new RecordingPreemptSink());
        SchedUnit u = new(1, 0);
        slots.Add(u);
        Assert.Equal(0, slots.SetAffinity(u, new HashSet<int> { 1 }, null));
        Assert.Equal(-XenErrno.EINVAL, slots.SetAffinity(u, new HashSet<int>(), null));
        Assert.Equal(-XenErrno.EINVAL, slots.SetAffinity(u, new HashSet<int> { 0, 2 }, null));
        Assert.Equal(-XenErrno.EINVAL, slots.SetAffinity(u, new HashSet<int> { -1 }, null));
        Assert.Equal(-XenErrno.EINVAL, slots.SetAffinity(u, null, new HashSet<int>()));
        AssertAffinity(slots, u, [1], null);
    }

    private static void AssertAffinity(SlotAllocator slots, SchedUnit u, int[]? hard, int[]? soft)
    {
        (int[]? h, int[]? s) = slots.Affinity(u);
        Assert.Equal(hard, h);
        Assert.Equal(soft, s);
    }

    private static void Pin(SlotSimulation sim, SimUnit u, params int[] slots) =>
        Assert.Equal(0, sim.Slots.SetAffinity(u.Unit, slots.ToHashSet(), null));

    // The allocator's invariants, from outside: each idle slot has no runnable unit that may run on it.
    private static void AssertWorkConserving(SlotSimulation sim, params SimUnit[] units)
    {
        for (int s = 0; s < sim.Slots.SlotCount; s++)
        {
            if (sim.Slots.Holder(s) is not null)
                continue;
            foreach (SimUnit u in units)
                Assert.False(sim.StateOf(u) == RunState.Runnable && u.Unit.MayRunOn(s), $"slot {s} idle while {u.Unit} may run on it");
        }
    }
}
