namespace XenSharp.Backends.Net;

/// <summary>The IPv4 protocol a VFR rule matches (<see cref="Any"/>: every protocol).</summary>
public enum VfrProtocol
{
    Any,
    Tcp,
    Udp,
    Icmp,
}
