namespace XenSharp.Hypervisor.Events;

/// <summary>
/// One port of an <see cref="EventChannelTable"/>, Xen's struct evtchn. Which fields mean something depends on
/// <see cref="State"/>: Unbound uses <see cref="RemoteDomain"/>; Interdomain uses <see cref="RemoteDomain"/>,
/// <see cref="RemotePort"/> and exactly one of <see cref="Peer"/> (a guest domain, possibly this one) and
/// <see cref="Host"/> (a backend in the host process, domain 0); Virq uses <see cref="VirqNumber"/>.
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
}
