namespace XenSharp.Backends.Net;

/// <summary>
/// One rule of a VIF's ordered list (the paper's VFR: a pattern and an action; the first rule that matches decides,
/// no match allows). A rule with a protocol, an address or a port matches only IPv4 packets (ports only TCP/UDP
/// packets that carry their header, i.e. not a later fragment); a rule of <see cref="VfrProtocol.Any"/> with none of
/// them matches every frame, ARP and IPv6 included — so "deny any" isolates a VIF.
/// </summary>
public sealed record VfrRule(
    VfrAction Action,
    VfrDirection Direction = VfrDirection.Both,
    VfrProtocol Protocol = VfrProtocol.Any,
    Ipv4Prefix? Source = null,
    Ipv4Prefix? Destination = null,
    VfrPortRange? SourcePorts = null,
    VfrPortRange? DestinationPorts = null)
{
    private bool MatchesEveryFrame =>
        Protocol == VfrProtocol.Any && Source is null && Destination is null && SourcePorts is null && DestinationPorts is null;

    internal bool Matches(VfrDirection direction, in VfrFrame f)
    {
        if ((Direction & direction) == 0)
        {
            return false;
        }

        if (MatchesEveryFrame)
        {
            return true;
        }

        if (!f.IsIpv4)
        {
            return false;
        }

        bool protocol = Protocol switch
        {
            VfrProtocol.Tcp => f.IpProtocol == VfrFrame.Tcp,
            VfrProtocol.Udp => f.IpProtocol == VfrFrame.Udp,
            VfrProtocol.Icmp => f.IpProtocol == VfrFrame.Icmp,
            _ => true,
        };
        if (!protocol || (Source is { } s && !s.Contains(f.SourceIp)) || (Destination is { } d && !d.Contains(f.DestinationIp)))
        {
            return false;
        }

        if (SourcePorts is null && DestinationPorts is null)
        {
            return true;
        }

        return f.HasPorts
            && (SourcePorts is not { } sp || sp.Contains(f.SourcePort))
            && (DestinationPorts is not { } dp || dp.Contains(f.DestinationPort));
    }
}
