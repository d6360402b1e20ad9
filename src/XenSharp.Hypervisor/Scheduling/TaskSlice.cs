namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// What do_schedule decided for one slot (Xen's task_slice): the unit to run there, or null to leave it idle, and
/// how long it may run before the scheduler is asked again.
/// </summary>
internal readonly record struct TaskSlice(SchedUnit? Next, long DurationNs)
{
    /// <summary>The duration of an idle slot: it waits for a wake-up, not for a timer.</summary>
    public const long Forever = long.MaxValue;
}
