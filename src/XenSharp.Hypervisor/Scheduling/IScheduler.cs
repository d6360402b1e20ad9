namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// A scheduling policy, modelled on Xen's <c>struct scheduler</c> (xen/common/sched/private.h): it keeps its own
/// run queue and decides which unit each slot (physical CPU) runs and for how long; <see cref="SlotAllocator"/>
/// calls it, under one lock, and does the waiting, granting, timers and preemption. Every call gets the time,
/// in nanoseconds on the allocator's clock, so a policy can be tested on a fake clock.
/// A unit is asleep from <see cref="InsertUnit"/> until <see cref="Wake"/>, and again from <see cref="Sleep"/>.
/// </summary>
internal interface IScheduler
{
    /// <summary>Xen's name ("Borrowed Virtual Time").</summary>
    string Name { get; }

    /// <summary>Xen's option name (sched=bvt).</summary>
    string OptName { get; }

    /// <summary>The number of slots the policy was built for.</summary>
    int SlotCount { get; }

    /// <summary>Adds a unit, asleep (insert_unit).</summary>
    void InsertUnit(SchedUnit unit, long now);

    /// <summary>Forgets a unit that is neither queued nor running (remove_unit).</summary>
    void RemoveUnit(SchedUnit unit, long now);

    /// <summary>The unit stops being runnable: out of the queue, or not put back when its slot is next scheduled (sleep).</summary>
    void Sleep(SchedUnit unit, long now);

    /// <summary>The unit becomes runnable (wake); says whether a slot should change hands for it.</summary>
    WakeDecision Wake(SchedUnit unit, long now);

    /// <summary>The unit running in a slot offers it up; the next <see cref="DoSchedule"/> of its slot follows (yield).</summary>
    void Yield(SchedUnit unit, long now);

    /// <summary>
    /// Deschedules whatever the slot ran (charging it, and queueing it again unless asleep) and picks what runs
    /// next (do_schedule). Returning null leaves the slot idle until a wake-up.
    /// </summary>
    TaskSlice DoSchedule(int slot, long now);

    /// <summary>Sets a domain's parameters (adjust, SCHED_INFO_PUT): 0, or a negative Xen errno (-EINVAL).</summary>
    int AdjustDomain(int domainId, SchedulerParameters parameters);

    /// <summary>A domain's parameters (adjust, SCHED_INFO_GET); the defaults for a domain never adjusted.</summary>
    SchedulerParameters DomainParameters(int domainId);

    /// <summary>Forgets a domain's parameters when it is destroyed.</summary>
    void RemoveDomain(int domainId);

    /// <summary>The policy's global settings, one line (dump_settings).</summary>
    void DumpSettings(TextWriter output);

    /// <summary>One slot's state and the queue, for the 'r' debug key (dump_cpu_state).</summary>
    void DumpSlot(int slot, TextWriter output);
}
