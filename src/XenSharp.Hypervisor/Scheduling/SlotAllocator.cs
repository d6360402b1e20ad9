using XenSharp.Abi;
using XenSharp.Hypervisor.Time;

namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// Decides which units may be inside KVM_RUN: a fixed number of slots (physical CPUs; by default the host's cores),
/// each held by at most one unit, given out by an <see cref="IScheduler"/> (the generic half of Xen's schedule.c).
/// A unit's thread calls <see cref="EnterRun"/> before KVM_RUN and gets back only once it holds a slot;
/// <see cref="Block"/>, <see cref="Yield"/> and <see cref="Remove"/> give the slot up. To take a slot back, the
/// allocator marks its holder and calls <see cref="IPreemptSink.Preempt"/> (a kick); the holder keeps the slot
/// until its thread next calls <see cref="EnterRun"/>, so no more units than slots are ever inside KVM_RUN.
/// <see cref="ISliceTimer"/> ends slices. Each unit's runstate (running, runnable: waiting for a slot, blocked,
/// offline) is accounted on the clock.
/// Invariants, all under <see cref="_lock"/>: a unit holds a slot exactly when its state is Running; a unit holds
/// only a slot in its hard affinity (<see cref="SchedUnit.MayRunOn"/>; every slot by default) once its thread is
/// back in <see cref="EnterRun"/> (an affinity change that excludes its slot preempts it); a slot is idle only while
/// no Runnable unit may run on it (work conservation; with every affinity all slots, while no unit is Runnable,
/// and every decision is the one made without affinities). Lock order: this lock, then the timer's; the
/// preemption sink is called with no lock held.
/// </summary>
internal sealed class SlotAllocator
{
    private readonly object _lock = new();
    private readonly IScheduler _scheduler;
    private readonly IHostClock _clock;
    private readonly ISliceTimer _timer;
    private readonly IPreemptSink _preempt;
    private readonly SchedUnit?[] _holder;
    private readonly long[] _deadline;
    private readonly HashSet<SchedUnit> _units = new();
    private int _runnable;

    public SlotAllocator(IScheduler scheduler, IHostClock clock, ISliceTimer timer, IPreemptSink preempt)
    {
        _scheduler = scheduler;
        _clock = clock;
        _timer = timer;
        _preempt = preempt;
        _holder = new SchedUnit?[scheduler.SlotCount];
        _deadline = new long[scheduler.SlotCount];
        Array.Fill(_deadline, long.MaxValue);
    }

    /// <summary>The default number of slots: the host's cores.</summary>
    public static int DefaultSlotCount => Environment.ProcessorCount;

    public int SlotCount => _holder.Length;

    /// <summary>Adds a unit, offline until its thread first calls <see cref="EnterRun"/>.</summary>
    public void Add(SchedUnit unit)
    {
        lock (_lock)
        {
            if (!_units.Add(unit))
                throw new InvalidOperationException($"{unit} was already added");
            long now = _clock.NowNanoseconds;
            unit.Removed = false; // a vCPU taken down and brought up again
            unit.StartAccounting(now);
            _scheduler.InsertUnit(unit, now);
        }
    }

    /// <summary>Takes a unit out for good: it gives up its slot, and an <see cref="EnterRun"/> waiting for it returns false.</summary>
    public void Remove(SchedUnit unit)
    {
        lock (_lock)
        {
            if (!_units.Remove(unit))
                return;
            long now = _clock.NowNanoseconds;
            LeaveLocked(unit, RunState.Offline, now);
            _scheduler.RemoveUnit(unit, now);
            unit.Removed = true;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>
    /// Called by the unit's thread before KVM_RUN: wakes the unit if it was blocked or offline, hands its slot over
    /// if it was preempted, and waits until it holds a slot. False when the unit was removed.
    /// </summary>
    public bool EnterRun(SchedUnit unit)
    {
        SchedUnit? kick = null;
        lock (_lock)
            EnterStepLocked(unit, ref kick);
        Deliver(kick);
        lock (_lock)
        {
            while (true)
            {
                if (unit.Removed)
                    return false;
                if (unit.State == RunState.Running && !unit.PreemptPending)
                    return true;
                if (unit.State == RunState.Running)
                    YieldLocked(unit, _clock.NowNanoseconds); // preempted while we waited: hand the slot on
                else
                    Monitor.Wait(_lock);
            }
        }
    }

    /// <summary>
    /// <see cref="EnterRun"/> without the wait: true if the unit now holds a slot; if not, it stays runnable and
    /// is given a slot later (its state says when).
    /// </summary>
    public bool TryEnterRun(SchedUnit unit)
    {
        SchedUnit? kick = null;
        bool holds;
        lock (_lock)
        {
            EnterStepLocked(unit, ref kick);
            holds = !unit.Removed && unit.State == RunState.Running && !unit.PreemptPending;
        }

        Deliver(kick);
        return holds;
    }

    /// <summary>The unit gives its slot up but stays runnable (SCHEDOP_yield); it may get it straight back.</summary>
    public void Yield(SchedUnit unit)
    {
        lock (_lock)
        {
            if (unit.State == RunState.Running)
            {
                long now = _clock.NowNanoseconds;
                _scheduler.Yield(unit, now);
                YieldLocked(unit, now);
            }
        }
    }

    /// <summary>
    /// The unit waits for an event (SCHEDOP_block): it gives its slot up until <see cref="Wake"/> or its own next
    /// <see cref="EnterRun"/>. The caller checks for events that came before this call, as a wake then was a no-op.
    /// </summary>
    public void Block(SchedUnit unit)
    {
        lock (_lock)
        {
            if (unit.State is RunState.Running or RunState.Runnable)
                LeaveLocked(unit, RunState.Blocked, _clock.NowNanoseconds);
        }
    }

    /// <summary>
    /// An event for a blocked unit, from any thread: it becomes runnable at once, so a slot can be taken for it
    /// (preempting its holder) before its own thread gets to <see cref="EnterRun"/>. No-op unless blocked.
    /// </summary>
    public void Wake(SchedUnit unit)
    {
        if (unit.State != RunState.Blocked)
            return; // unlocked hint: a unit about to block checks for events itself after Block, and EnterRun wakes it
        SchedUnit? kick = null;
        lock (_lock)
        {
            if (unit.State == RunState.Blocked && !unit.Removed)
                WakeLocked(unit, _clock.NowNanoseconds, ref kick);
        }

        Deliver(kick);
    }

    /// <summary>Called by the timer when a slot's slice may have ended; a call before the deadline is ignored.</summary>
    public void SliceTimerFired(int slot)
    {
        SchedUnit? kick = null;
        lock (_lock)
        {
            long now = _clock.NowNanoseconds;
            if (now < _deadline[slot] || _holder[slot] is not { } holder)
                return;
            _deadline[slot] = long.MaxValue;
            if (!AnyRunnableMayRunOnLocked(slot))
                Schedule(slot, now); // nobody waits: the holder goes on, charged, with a new slice
            else
                PreemptLocked(holder, ref kick);
        }

        Deliver(kick);
    }

    /// <summary>
    /// Sets a unit's hard affinity (the slots it may hold; null: all) and records its soft one (no effect under BVT),
    /// as XEN_DOMCTL_setvcpuaffinity: 0, or -EINVAL for an empty set or a slot the allocator does not have. A unit
    /// whose slot is no longer allowed is preempted and moves at its next <see cref="EnterRun"/>; a runnable one
    /// takes an idle slot it may now hold.
    /// </summary>
    public int SetAffinity(SchedUnit unit, IReadOnlySet<int>? hard, IReadOnlySet<int>? soft)
    {
        if (!ValidAffinity(hard) || !ValidAffinity(soft))
            return -XenErrno.EINVAL;
        SchedUnit? kick = null;
        lock (_lock)
        {
            unit.HardAffinity = hard is null || hard.Count == SlotCount ? null : hard;
            unit.SoftAffinity = soft is null || soft.Count == SlotCount ? null : soft;
            if (_units.Contains(unit) && !unit.Removed)
            {
                if (unit.State == RunState.Running && !unit.MayRunOn(unit.Slot))
                    PreemptLocked(unit, ref kick);
                else if (unit.State == RunState.Runnable)
                    PlaceOnIdleSlotLocked(unit, _clock.NowNanoseconds);
            }
        }

        Deliver(kick);
        return 0;
    }

    /// <summary>A unit's hard and soft affinities, sorted; null: every slot.</summary>
    public (int[]? Hard, int[]? Soft) Affinity(SchedUnit unit)
    {
        lock (_lock)
            return (unit.HardAffinity?.Order().ToArray(), unit.SoftAffinity?.Order().ToArray());
    }

    private bool ValidAffinity(IReadOnlySet<int>? slots) =>
        slots is null || (slots.Count > 0 && slots.All(s => s >= 0 && s < SlotCount));

    /// <summary>Sets a domain's parameters under the lock (the policy is single-threaded): 0 or a negative Xen errno.</summary>
    public int AdjustDomain(int domainId, SchedulerParameters parameters)
    {
        lock (_lock)
            return _scheduler.AdjustDomain(domainId, parameters);
    }

    /// <summary>A domain's parameters (the defaults for one never adjusted).</summary>
    public SchedulerParameters DomainParameters(int domainId)
    {
        lock (_lock)
            return _scheduler.DomainParameters(domainId);
    }

    /// <summary>Runs <paramref name="change"/> on the policy under the lock (a global setting, e.g. BVT's allowance).</summary>
    public T WithPolicy<T>(Func<IScheduler, T> change)
    {
        lock (_lock)
            return change(_scheduler);
    }

    /// <summary>Forgets a destroyed domain's parameters.</summary>
    public void RemoveDomain(int domainId)
    {
        lock (_lock)
            _scheduler.RemoveDomain(domainId);
    }

    public UnitRunstate Runstate(SchedUnit unit)
    {
        lock (_lock)
            return unit.Runstate(_clock.NowNanoseconds);
    }

    /// <summary>The unit holding a slot, or null while it is idle.</summary>
    public SchedUnit? Holder(int slot)
    {
        lock (_lock)
            return _holder[slot];
    }

    /// <summary>The number of units waiting for a slot.</summary>
    public int RunnableCount
    {
        get
        {
            lock (_lock)
                return _runnable;
        }
    }

    /// <summary>The scheduler's settings and each slot's state (Xen's 'r' debug key).</summary>
    public void Dump(TextWriter output)
    {
        lock (_lock)
        {
            output.WriteLine($"Scheduler: {_scheduler.Name} ({_scheduler.OptName}), {_holder.Length} slots");
            _scheduler.DumpSettings(output);
            for (int s = 0; s < _holder.Length; s++)
                _scheduler.DumpSlot(s, output);
        }
    }

    private void EnterStepLocked(SchedUnit unit, ref SchedUnit? kick)
    {
        if (unit.Removed || !_units.Contains(unit))
            return;
        long now = _clock.NowNanoseconds;
        if (unit.State == RunState.Running && unit.PreemptPending)
            YieldLocked(unit, now);
        else if (unit.State is RunState.Blocked or RunState.Offline)
            WakeLocked(unit, now, ref kick);
    }

    private void WakeLocked(SchedUnit unit, long now, ref SchedUnit? kick)
    {
        SetState(unit, RunState.Runnable, now);
        WakeDecision decision = _scheduler.Wake(unit, now);
        int idle = IdleSlotFor(unit);
        if (idle >= 0)
        {
            Schedule(idle, now); // work conservation: an idle slot takes it whatever the policy said
            return;
        }

        if (decision.Slot < 0)
            return;
        if (decision.PreemptNow)
        {
            PreemptLocked(_holder[decision.Slot]!, ref kick);
        }
        else if (decision.DeadlineNs < _deadline[decision.Slot])
        {
            _deadline[decision.Slot] = decision.DeadlineNs;
            _timer.Arm(decision.Slot, decision.DeadlineNs);
        }
    }

    // Each step preempts at most one holder, so one slot for the kick to deliver after the lock is enough.
    private static void PreemptLocked(SchedUnit holder, ref SchedUnit? kick)
    {
        if (holder.PreemptPending)
            return;
        holder.PreemptPending = true;
        kick = holder;
    }

    // The holder of a slot hands it back, staying runnable; the scheduler decides who holds it next.
    private void YieldLocked(SchedUnit unit, long now)
    {
        unit.PreemptPending = false;
        Schedule(unit.Slot, now);
    }

    // The unit stops being runnable (blocked or offline), giving up its slot if it holds one.
    private void LeaveLocked(SchedUnit unit, RunState state, long now)
    {
        int slot = unit.Slot;
        if (unit.State != RunState.Offline)
            _scheduler.Sleep(unit, now);
        SetState(unit, state, now);
        unit.PreemptPending = false;
        if (slot >= 0)
            Schedule(slot, now);
    }

    // The first idle slot the unit may hold, or -1.
    private int IdleSlotFor(SchedUnit unit)
    {
        for (int s = 0; s < _holder.Length; s++)
        {
            if (_holder[s] is null && unit.MayRunOn(s))
                return s;
        }

        return -1;
    }

    private bool AnyRunnableMayRunOnLocked(int slot)
    {
        if (_runnable == 0)
            return false;
        foreach (SchedUnit u in _units)
        {
            if (u.State == RunState.Runnable && u.MayRunOn(slot))
                return true;
        }

        return false;
    }

    // Work conservation for a unit that became runnable without a wake (it lost its slot): an idle slot it may hold
    // takes it. Without affinities no slot is idle while another unit took its slot, so this never acts.
    private void PlaceOnIdleSlotLocked(SchedUnit unit, long now)
    {
        int idle = IdleSlotFor(unit);
        if (idle >= 0)
            Schedule(idle, now);
    }

    // Asks the scheduler who holds the slot next; the previous holder, if any, has left it or stays runnable.
    private void Schedule(int slot, long now)
    {
        SchedUnit? prev = _holder[slot];
        TaskSlice slice = _scheduler.DoSchedule(slot, now);
        SchedUnit? next = slice.Next;
        bool demoted = false;
        if (prev is not null && prev != next)
        {
            prev.Slot = -1;
            prev.PreemptPending = false;
            if (prev.State == RunState.Running)
            {
                SetState(prev, RunState.Runnable, now);
                demoted = true;
            }
        }

        _holder[slot] = next;
        if (next is null)
        {
            _deadline[slot] = long.MaxValue;
            _timer.Cancel(slot);
        }
        else
        {
            next.Slot = slot;
            next.PreemptPending = false; // kept the slot: the kick, if any, is answered by its next EnterRun
            if (next.State != RunState.Running)
                SetState(next, RunState.Running, now);
            _deadline[slot] = slice.DurationNs >= long.MaxValue - now ? long.MaxValue : now + slice.DurationNs;
            _timer.Arm(slot, _deadline[slot]);
        }

        Monitor.PulseAll(_lock);
        if (demoted)
            PlaceOnIdleSlotLocked(prev!, now);
    }

    private void SetState(SchedUnit unit, RunState state, long now)
    {
        if (unit.State == RunState.Runnable)
            _runnable--;
        if (state == RunState.Runnable)
            _runnable++;
        unit.Enter(state, now);
    }

    private void Deliver(SchedUnit? kick)
    {
        if (kick is not null)
        {
            Interlocked.MemoryBarrier(); // PreemptPending is visible before the sink reads whether the holder is in the guest
            _preempt.Preempt(kick);
        }
    }
}
