namespace XenSharp.Hypervisor.Events;

/// <summary>
/// One port of an <see cref="EventChannelTable"/>, Xen's struct evtchn. Which fields mean something depends on
/// <see cref="State"/>: Unbound uses <see cref="RemoteDomain"/>; Interdomain uses <see cref="RemoteDomain"/>,
/// <see cref="RemotePort"/> and exactly one of <see cref="Peer"/> (a guest domain, possibly this one) and
/// <see cref="Host"/> (a backend in the host process, domain 0); Virq uses <see cref="VirqNumber"/>.
/// The last four fields belong to the FIFO ABI (<see cref="FifoEvents"/>); the last queue outlives a close, because a
/// closed port may still be that queue's tail.
/// </summary>
internal struct Channel
{
    public ChannelState State;
    public int NotifyVcpu;
    public ushort RemoteDomain;
    public int RemotePort;
    public int VirqNumber;
    public EventChannelTable? Peer;
    public HostEventChannel? Host;

    /// <summary>The queue the next raise links onto (0 highest .. 15 lowest).</summary>
    public byte Priority;

    /// <summary>Raised while the port had no event word yet (no array page): raised for real when the page is added.</summary>
    public bool FifoPending;

    /// <summary>The queue (vCPU, priority) the port was last linked onto: Xen's fifo_lastq.</summary>
    public int LastQueueVcpu;
    public byte LastQueuePriority;
}
