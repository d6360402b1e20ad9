using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Events;

/// <summary>
/// Where one event-channel ABI keeps a port's pending and masked state in guest memory, as Xen's evtchn_port_ops:
/// <see cref="TwoLevelEvents"/> (bitmaps in shared_info) or <see cref="FifoEvents"/> (event words and per-vCPU queues).
/// The <see cref="EventChannelTable"/> owns the ports and calls these with its lock held and only while the domain is
/// alive, so an implementation needs no lock of its own for its hypervisor-side state; the guest changes the shared
/// words concurrently, so every guest-memory read-modify-write is an interlocked operation. No member allocates.
/// </summary>
internal interface IEventAbi
{
    /// <summary>Xen's max_evtchns: no port at or above this may be allocated.</summary>
    int PortLimit { get; }

    /// <summary>Whether EVTCHNOP_set_priority means anything (otherwise it is -ENOSYS).</summary>
    bool HasPriorities { get; }

    /// <summary>A port was just bound (Xen's evtchn_port_init).</summary>
    void InitPort(ref Channel c);

    /// <summary>Raises <paramref name="port"/> for vCPU <paramref name="v"/>; the caller kicks the vCPU unless nothing changed.</summary>
    EventRaise SetPending(Vcpu v, int port, ref Channel c);

    /// <summary>Clears the pending state of a port being closed.</summary>
    void ClearPending(int port, ref Channel c);

    /// <summary>EVTCHNOP_unmask: clears the mask and re-raises a pending port for <paramref name="notify"/>. True if the vCPU must be kicked.</summary>
    bool Unmask(Vcpu notify, int port, ref Channel c);

    bool IsPending(int port);

    /// <summary>Whether the port is still on a queue, so it may not be reallocated yet (Xen's is_busy).</summary>
    bool IsBusy(int port);

    /// <summary>EVTCHNOP_set_priority on a bound port. 0 or -errno.</summary>
    int SetPriority(ref Channel c, uint priority);
}
