namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// A domain's parameters for one scheduler (Xen's xen_domctl_scheduler_op union): each scheduler has its own record
/// deriving from this one, and refuses another's with EINVAL.
/// </summary>
public abstract record SchedulerParameters;
