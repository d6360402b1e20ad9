using XenSharp.Hypervisor.Scheduling;
using Xunit;

namespace XenSharp.Tests.Scheduling;

/// <summary>
/// The scheduler is on the exit path (every KVM_RUN asks for a slot) and on the event path (a wake-up): entering,
/// blocking, waking, yielding, preempting and the slice timer's call allocate nothing once the units are added.
/// </summary>
public sealed class SlotAllocatorAllocationTests
{
    private sealed class NoKick : IPreemptSink
    {
        public int Count;

        public void Preempt(SchedUnit unit) => Count++;
    }

    [Fact]
    public void TheRunLoopsCallsAllocateNothing()
    {
        var clock = new AtomicFakeClock();
        var sink = new NoKick();
        var bvt = new BvtScheduler(1);
        Assert.Equal(0, bvt.AdjustDomain(2, new BvtParameters { WarpBack = true, WarpValue = 1000 * BvtParameters.DefaultMcuAdvance }));
        var slots = new SlotAllocator(bvt, clock, new FakeSliceTimer(1), sink);
        SchedUnit cpu = new(1, 0), io = new(2, 0);
        slots.Add(cpu);
        slots.Add(io);
        Assert.True(slots.TryEnterRun(io)); // the warped unit has run and blocks: the rounds wake it
        slots.Block(io);

        Round(slots, clock, cpu, io); // warm up: queues and dictionaries reach their size
        int kicks = sink.Count;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Round(slots, clock, cpu, io);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(sink.Count > kicks, "the rounds preempted (the warped unit's wake-ups kick the CPU-bound one)");
    }

    // One round of what vCPU threads do, on one thread: the CPU-bound unit runs, the warped one wakes and preempts
    // it, the CPU-bound one hands the slot over at its next entry, the warped one blocks, the slice timer fires.
    private static void Round(SlotAllocator slots, AtomicFakeClock clock, SchedUnit cpu, SchedUnit io)
    {
        Assert.True(slots.TryEnterRun(cpu));
        clock.Advance(1_000_000);
        slots.Wake(io); // blocked: woken from an event sender's thread
        Assert.False(slots.TryEnterRun(cpu)); // preempted: hands the slot over and waits
        Assert.True(slots.TryEnterRun(io));
        clock.Advance(50_000);
        slots.Block(io);
        slots.Yield(cpu);
        slots.SliceTimerFired(0);
        Assert.True(slots.TryEnterRun(cpu));
        slots.Block(cpu); // and back to the start: both blocked
    }
}
