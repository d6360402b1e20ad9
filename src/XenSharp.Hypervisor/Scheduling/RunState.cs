using XenSharp.Abi;

namespace XenSharp.Hypervisor.Scheduling;

/// <summary>Where a schedulable unit is, with the values of Xen's RUNSTATE_* (vcpu_runstate_info.state).</summary>
internal enum RunState
{
    /// <summary>Holds a slot: may be inside KVM_RUN.</summary>
    Running = RunstateLayout.Running,

    /// <summary>Wants to run and waits for a slot.</summary>
    Runnable = RunstateLayout.Runnable,

    /// <summary>Waits for an event; gave its slot up.</summary>
    Blocked = RunstateLayout.Blocked,

    /// <summary>Not brought up yet, or removed.</summary>
    Offline = RunstateLayout.Offline,
}
