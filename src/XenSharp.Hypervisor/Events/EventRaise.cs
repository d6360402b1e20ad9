namespace XenSharp.Hypervisor.Events;

/// <summary>What setting a port pending did, in the 2-level protocol's order.</summary>
internal enum EventRaise
{
    /// <summary>The port was already pending: nothing changed.</summary>
    AlreadyPending,

    /// <summary>The port became pending, but it is masked or its selector bit was already set: no new upcall.</summary>
    Pending,

    /// <summary>The port became pending and the vCPU's upcall_pending went from 0 to 1: the vCPU must be kicked.</summary>
    Upcall,
}
