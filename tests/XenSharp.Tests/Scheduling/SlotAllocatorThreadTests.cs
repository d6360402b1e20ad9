using XenSharp.Hypervisor.Scheduling;
using Xunit;

namespace XenSharp.Tests.Scheduling;

/// <summary>
/// The slot allocator with real vCPU-like threads and a fake clock. Waits have generous limits only to turn a
/// hang into a failure; no assertion depends on how long anything took.
/// </summary>
public class SlotAllocatorThreadTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    private readonly AtomicFakeClock _clock = new();
    private readonly RecordingPreemptSink _sink = new();

    private SlotAllocator NewAllocator(int slots, out BvtScheduler bvt)
    {
        bvt = new BvtScheduler(slots);
        return new SlotAllocator(bvt, _clock, new FakeSliceTimer(slots), _sink);
    }

    private static void WaitFor(Func<bool> condition) =>
        Assert.True(SpinWait.SpinUntil(condition, HangGuard), "condition not reached");

    [Fact]
    public void EnterRunWaitsUntilTheHolderBlocks()
    {
        SlotAllocator slots = NewAllocator(1, out _);
        SchedUnit a = new(1, 0), b = new(2, 0);
        slots.Add(a);
        slots.Add(b);
        Assert.True(slots.EnterRun(a));

        var bEnters = new VcpuThread(() => slots.EnterRun(b));
        WaitFor(() => slots.Runstate(b).State == RunState.Runnable);
        Assert.False(bEnters.IsCompleted); // only a's Block can give b the slot
        Assert.Same(a, slots.Holder(0));

        slots.Block(a);

        Assert.True(bEnters.Join(HangGuard, out bool entered));
        Assert.True(entered);
        Assert.Same(b, slots.Holder(0));
        Assert.Equal(RunState.Blocked, slots.Runstate(a).State);
    }

    [Fact]
    public void APreemptionIsAKickAndTheSlotChangesHandsWhenTheHolderComesBack()
    {
        SlotAllocator slots = NewAllocator(1, out BvtScheduler bvt);
        Assert.Equal(0, bvt.AdjustDomain(2, new BvtParameters { WarpBack = true, WarpValue = 1000 * BvtParameters.DefaultMcuAdvance }));
        SchedUnit cpu = new(1, 0), io = new(2, 0);
        slots.Add(cpu);
        slots.Add(io);
        Assert.True(slots.EnterRun(cpu));

        var ioEnters = new VcpuThread(() => slots.EnterRun(io));

        Assert.True(_sink.Kicked.TryTake(out SchedUnit? kicked, HangGuard));
        Assert.Same(cpu, kicked);
        Assert.Same(cpu, slots.Holder(0)); // still in KVM_RUN until its thread comes back
        Assert.False(ioEnters.IsCompleted);

        Assert.False(slots.TryEnterRun(cpu)); // the kicked thread comes back and hands the slot over

        Assert.True(ioEnters.Join(HangGuard, out bool entered));
        Assert.True(entered);
        Assert.Same(io, slots.Holder(0));
        Assert.Equal(RunState.Runnable, slots.Runstate(cpu).State);
    }

    [Fact]
    public void AWakeFromAnotherThreadTakesAnIdleSlotAtOnce()
    {
        SlotAllocator slots = NewAllocator(2, out _);
        SchedUnit a = new(1, 0), b = new(2, 0);
        slots.Add(a);
        slots.Add(b);
        Assert.True(slots.EnterRun(a));
        Assert.True(slots.EnterRun(b));
        slots.Block(b);
        Assert.Null(slots.Holder(1));

        Assert.True(new VcpuThread(() =>
        {
            slots.Wake(b);
            return true;
        }).Join(HangGuard, out _));

        Assert.Same(b, slots.Holder(1));
        Assert.Empty(_sink.Kicked);
        Assert.True(slots.TryEnterRun(b));
    }

    [Fact]
    public void RemovingAWaitingUnitEndsItsEnterRun()
    {
        SlotAllocator slots = NewAllocator(1, out _);
        SchedUnit a = new(1, 0), b = new(2, 0);
        slots.Add(a);
        slots.Add(b);
        Assert.True(slots.EnterRun(a));
        var bEnters = new VcpuThread(() => slots.EnterRun(b));
        WaitFor(() => slots.Runstate(b).State == RunState.Runnable);

        slots.Remove(b);

        Assert.True(bEnters.Join(HangGuard, out bool entered));
        Assert.False(entered);
        Assert.Equal(RunState.Offline, slots.Runstate(b).State);
        Assert.Same(a, slots.Holder(0));
    }

    [Fact]
    public void ARemovedUnitCanBeAddedAgain()
    {
        SlotAllocator slots = NewAllocator(1, out _);
        SchedUnit a = new(1, 0);
        slots.Add(a);
        Assert.True(slots.EnterRun(a));
        slots.Remove(a);
        Assert.Null(slots.Holder(0));

        slots.Add(a);

        Assert.True(slots.EnterRun(a));
        Assert.Same(a, slots.Holder(0));
    }

    [Fact]
    public void ManyThreadsNeverHoldMoreSlotsThanThereAre()
    {
        const int SlotCount = 2, Units = 6, Rounds = 300;
        SlotAllocator slots = NewAllocator(SlotCount, out _);
        var units = Enumerable.Range(0, Units).Select(i => new SchedUnit(i + 1, 0)).ToArray();
        foreach (SchedUnit u in units)
            slots.Add(u);
        int inside = 0, most = 0;

        var threads = units.Select((u, i) => new Thread(() =>
        {
            for (int round = 0; round < Rounds; round++)
            {
                Assert.True(slots.EnterRun(u));
                int now = Interlocked.Increment(ref inside);
                InterlockedMax(ref most, now);
                _clock.Advance(50_000 + (i * 7919 + round * 104729) % 900_000);
                Interlocked.Decrement(ref inside);
                switch ((i + round) % 3)
                {
                    case 0:
                        slots.Yield(u);
                        break;
                    case 1:
                        slots.Block(u);
                        slots.Wake(units[(i + 1) % Units]); // an event for a neighbour, from this thread
                        break;
                    default:
                        slots.TryEnterRun(u); // comes back from KVM_RUN; hands the slot over if it was kicked
                        break;
                }
            }

            slots.Remove(u);
        }) { IsBackground = true }).ToArray();
        foreach (Thread t in threads)
            t.Start();
        foreach (Thread t in threads)
            Assert.True(t.Join(HangGuard), "a unit thread hung");

        Assert.InRange(most, 1, SlotCount);
        Assert.All(units, u => Assert.Equal(RunState.Offline, slots.Runstate(u).State));
        Assert.Null(slots.Holder(0));
        Assert.Null(slots.Holder(1));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen = Volatile.Read(ref target);
        while (value > seen)
        {
            int was = Interlocked.CompareExchange(ref target, value, seen);
            if (was == seen)
                return;
            seen = was;
        }
    }
}
