namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// Where a vCPU is in its life (<see cref="VcpuLifecycle"/> holds it and its legal transitions). Xen keeps the same
/// facts in runstates (RUNSTATE_running/runnable/blocked/offline) and pause flags (VPF_down, VPF_blocked, pause_count).
/// </summary>
internal enum VcpuState
{
    /// <summary>Down (never brought up, VCPUOP_down) or its domain has ended: no guest code runs; its thread, if any, waits.</summary>
    Offline,

    /// <summary>Up and wanting to run, not yet in the guest: its thread is starting or coming back from a wait.</summary>
    Runnable,

    /// <summary>Its thread runs guest code (inside KVM_RUN) or handles one of its exits (a hypercall, a fault).</summary>
    Running,

    /// <summary>In SCHEDOP_block or SCHEDOP_poll: out of the guest until an event (or the poll timeout) wakes it.</summary>
    Blocked,

    /// <summary>Parked by a pause (domain or vCPU) while it was running: out of the guest, its state consistent.</summary>
    Paused,
}
