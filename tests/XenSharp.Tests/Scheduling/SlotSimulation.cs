using XenSharp.Hypervisor.Scheduling;
using XenSharp.Tests.Time;
using Xunit;

namespace XenSharp.Tests.Scheduling;

/// <summary>
/// Drives a <see cref="SlotAllocator"/> over BVT on one thread and a fake clock, as the run loop would: units hold
/// slots and run; a kicked unit comes back at once; bursts end in a block, blocks in a wake-up; slice timers fire
/// when the clock reaches them. Time jumps from one event to the next, so a simulated minute takes milliseconds.
/// After every event it checks work conservation: no slot idle while a unit waits.
/// </summary>
internal sealed class SlotSimulation
{
    private readonly List<SimUnit> _units = new();
    private readonly RecordingPreemptSink _sink = new();

    public SlotSimulation(int slots, long contextSwitchAllowanceNs = BvtScheduler.DefaultContextSwitchAllowanceNs)
    {
        Timer = new FakeSliceTimer(slots);
        Bvt = new BvtScheduler(slots, contextSwitchAllowanceNs);
        Slots = new SlotAllocator(Bvt, Clock, Timer, _sink);
    }

    public FakeClock Clock { get; } = new();

    public FakeSliceTimer Timer { get; }

    public BvtScheduler Bvt { get; }

    public SlotAllocator Slots { get; }

    /// <summary>Events after which a slot was idle while a unit waited; work conservation wants 0.</summary>
    public int IdleWhileRunnable { get; private set; }

    public long Now => Clock.NowNanoseconds;

    public void Adjust(int domainId, BvtParameters parameters) => Assert.Equal(0, Bvt.AdjustDomain(domainId, parameters));

    public SimUnit CpuBound(int domainId, int vcpuId = 0) => Start(new SimUnit(new SchedUnit(domainId, vcpuId), long.MaxValue, 0));

    public SimUnit IoBound(int domainId, long burstNs, long blockNs) =>
        Start(new SimUnit(new SchedUnit(domainId, 0), burstNs, blockNs));

    /// <summary>The test blocks a unit until <see cref="WakeUp"/>.</summary>
    public void Block(SimUnit u)
    {
        u.WakeAt = null;
        Slots.Block(u.Unit);
        Settle();
    }

    public void WakeUp(SimUnit u)
    {
        u.WokeAt = Now;
        Slots.Wake(u.Unit);
        Slots.TryEnterRun(u.Unit);
        Settle();
    }

    public RunState StateOf(SimUnit u) => Slots.Runstate(u.Unit).State;

    public long RunningNs(SimUnit u) => Slots.Runstate(u.Unit).RunningNs;

    public void RunFor(long ns)
    {
        long end = Now + ns;
        Settle();
        while (Now < end)
        {
            long next = Math.Min(end, Timer.Earliest);
            foreach (SimUnit u in _units)
            {
                if (!u.CpuBound && StateOf(u) == RunState.Running)
                    next = Math.Min(next, Now + u.BurstLeft);
                if (u.WakeAt is { } w)
                    next = Math.Min(next, w);
            }

            long dt = Math.Max(0, next - Now);
            foreach (SimUnit u in _units)
            {
                if (!u.CpuBound && StateOf(u) == RunState.Running)
                    u.BurstLeft -= dt;
            }

            Clock.Advance(dt);

            foreach (SimUnit u in _units)
            {
                if (!u.CpuBound && StateOf(u) == RunState.Running && u.BurstLeft == 0)
                {
                    Slots.Block(u.Unit);
                    u.BurstLeft = u.BurstNs;
                    u.WakeAt = Now + u.BlockNs;
                }
            }

            Settle();
            foreach (SimUnit u in _units)
            {
                if (u.WakeAt == Now)
                {
                    u.WakeAt = null;
                    WakeUp(u);
                }
            }

            for (int s = 0; s < Timer.Slots; s++)
            {
                if (Timer.Deadline(s) <= Now)
                {
                    Timer.Cancel(s);
                    Slots.SliceTimerFired(s);
                    Settle();
                }
            }
        }
    }

    private SimUnit Start(SimUnit u)
    {
        _units.Add(u);
        Slots.Add(u.Unit);
        Slots.TryEnterRun(u.Unit);
        Settle();
        return u;
    }

    // Kicked units come straight back to hand their slot over; units that got a slot note their wake latency.
    private void Settle()
    {
        while (_sink.Kicked.TryTake(out SchedUnit? kicked))
            Slots.TryEnterRun(kicked);
        foreach (SimUnit u in _units)
        {
            if (u.WokeAt is { } woke && StateOf(u) == RunState.Running)
            {
                u.WakeLatencies.Add(Now - woke);
                u.WokeAt = null;
            }
        }

        bool idle = Enumerable.Range(0, Slots.SlotCount).Any(s => Slots.Holder(s) is null);
        if (idle && Slots.RunnableCount > 0)
            IdleWhileRunnable++;
    }
}
