namespace XenSharp.Backends.Net;

/// <summary>
/// What the frontend asked for in the store (io/netif.h's feature nodes, as Linux's netfront writes them), after the
/// xenbus layer has read and checked them. Defaults are netif's when a node is absent.
/// </summary>
/// <param name="RxCopy">feature-rx-copy: rx by grant copy into the frontend's buffers (the only mode served).</param>
/// <param name="RxNotify">feature-rx-notify: the frontend notifies when it posts rx buffers.</param>
/// <param name="Sg">feature-sg: the frontend takes a packet over several rx slots (without it, frames over one page are dropped).</param>
/// <param name="GsoTcpV4">feature-gso-tcpv4: the frontend takes TCPv4 GSO packets on rx.</param>
/// <param name="GsoTcpV6">feature-gso-tcpv6: the same for TCPv6.</param>
/// <param name="CsumOffload">not feature-no-csum-offload: the frontend takes IPv4 packets with a blank checksum on rx.</param>
public sealed record NetbackFeatures(
    bool RxCopy = true,
    bool RxNotify = true,
    bool Sg = true,
    bool GsoTcpV4 = false,
    bool GsoTcpV6 = false,
    bool CsumOffload = true)
{
    /// <summary>What Linux's xen-netfront negotiates with a backend offering everything.</summary>
    public static NetbackFeatures LinuxNetfront { get; } = new(GsoTcpV4: true, GsoTcpV6: true);
}
