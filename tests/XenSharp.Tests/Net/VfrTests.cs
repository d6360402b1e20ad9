using XenSharp.Backends.Net;
using Xunit;
using static XenSharp.Tests.Net.TestFrames;

namespace XenSharp.Tests.Net;

/// <summary>The virtual firewall-router on its own: switching, learning, flooding, rules, malformed frames, bounds.</summary>
public sealed class VfrTests
{
    private readonly Vfr _vfr = new();
    private readonly CapturingEndpoint _a = new();
    private readonly CapturingEndpoint _b = new();
    private readonly CapturingEndpoint _c = new();
    private readonly VfrPort _pa;
    private readonly VfrPort _pb;
    private readonly VfrPort _pc;

    public VfrTests()
    {
        _pa = _vfr.Attach("a", _a);
        _pb = _vfr.Attach("b", _b);
        _pc = _vfr.Attach("c", _c);
    }

    private static NetPacket P(byte[] frame) => new(frame);

    [Fact]
    public void AnUnknownDestinationFloodsThenTheLearnedPortAloneGetsIt()
    {
        Assert.True(_pa.Send(P(Sized(Mac(1), Mac(2), 60))));
        Assert.Equal((0, 1, 1), (_a.Packets.Count, _b.Packets.Count, _c.Packets.Count)); // flooded, not back to a
        Assert.Same(_pa, _vfr.Lookup(Mac(1)));

        Assert.True(_pb.Send(P(Sized(Mac(2), Mac(1), 60)))); // b answers: a is known
        Assert.Equal((1, 1, 1), (_a.Packets.Count, _b.Packets.Count, _c.Packets.Count));

        Assert.True(_pa.Send(P(Sized(Mac(1), Mac(2), 61)))); // b is known now
        Assert.Equal((1, 2, 1), (_a.Packets.Count, _b.Packets.Count, _c.Packets.Count));
        Assert.Equal(61, _b.Packets[1].Length);
        Assert.Equal((2L, 2L), (_pa.Counters.Sent, _pb.Counters.Received));
    }

    [Fact]
    public void BroadcastAndMulticastFloodToEveryOtherPort()
    {
        _pb.Send(P(Sized(Mac(2), Mac(1), 60))); // learn mac 2 behind b
        _pa.Send(P(Sized(Mac(1), Broadcast, 60)));
        _pa.Send(P(Sized(Mac(1), 0x01_00_5e_00_00_01, 60))); // IPv4 multicast group
        Assert.Equal((1, 2, 3), (_a.Packets.Count, _b.Packets.Count, _c.Packets.Count));
    }

    [Fact]
    public void AFrameForAMacBehindItsOwnPortGoesNowhere()
    {
        _pa.Send(P(Sized(Mac(1), Broadcast, 60)));
        _pa.Send(P(Sized(Mac(5), Mac(1), 60))); // 1 is behind a, the sender
        Assert.Equal((0, 1, 1), (_a.Packets.Count, _b.Packets.Count, _c.Packets.Count));
    }

    [Fact]
    public void ATcpPortIsBlockedWhileAnotherPasses()
    {
        _pa.SetRules([new VfrRule(VfrAction.Deny, VfrDirection.FromVif, VfrProtocol.Tcp, DestinationPorts: new VfrPortRange(5001))]);
        Assert.False(_pa.Send(P(Tcp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2", 40000, 5001))));
        Assert.True(_pa.Send(P(Tcp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2", 40000, 5002))));
        Assert.True(_pa.Send(P(Udp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2", 40000, 5001)))); // only TCP is denied
        Assert.Equal(2, _b.Packets.Count);
        Assert.Equal(1, _pa.Counters.Denied);
    }

    [Fact]
    public void IcmpDenyDropsPingsButNotTcp()
    {
        _pb.SetRules([new VfrRule(VfrAction.Deny, VfrDirection.ToVif, VfrProtocol.Icmp)]);
        _pa.Send(P(Icmp(Mac(1), Broadcast, "10.0.0.1", "10.0.0.2")));
        _pa.Send(P(Tcp(Mac(1), Broadcast, "10.0.0.1", "10.0.0.2", 1, 2)));
        Assert.Single(_b.Packets);
        Assert.Equal(2, _c.Packets.Count); // c has no rule
        Assert.Equal(1, _pb.Counters.Denied);
    }

    [Fact]
    public void TheFirstMatchingRuleWinsAndNoMatchAllows()
    {
        _pa.SetRules(
        [
            new VfrRule(VfrAction.Allow, Protocol: VfrProtocol.Tcp, DestinationPorts: new VfrPortRange(22)),
            new VfrRule(VfrAction.Deny, Protocol: VfrProtocol.Tcp, Destination: Ipv4Prefix.Parse("10.0.0.0/24")),
        ]);
        Assert.True(_pa.Send(P(Tcp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2", 9, 22))));
        Assert.False(_pa.Send(P(Tcp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2", 9, 80))));
        Assert.True(_pa.Send(P(Tcp(Mac(1), Mac(2), "10.0.0.1", "10.0.1.2", 9, 80)))); // outside the prefix
        Assert.True(_pa.Send(P(ArpRequest(Mac(1), "10.0.0.1", "10.0.0.2")))); // rules with a protocol see only IPv4
    }

    [Fact]
    public void SourcePrefixesAndPortRangesMatch()
    {
        _pa.SetRules([new VfrRule(VfrAction.Deny, Source: Ipv4Prefix.Parse("192.168.0.0/16"), SourcePorts: new VfrPortRange(1000, 1999))]);
        Assert.False(_pa.Send(P(Udp(Mac(1), Mac(2), "192.168.7.7", "10.0.0.2", 1500, 53))));
        Assert.True(_pa.Send(P(Udp(Mac(1), Mac(2), "192.168.7.7", "10.0.0.2", 2000, 53))));
        Assert.True(_pa.Send(P(Udp(Mac(1), Mac(2), "192.169.7.7", "10.0.0.2", 1500, 53))));
    }

    [Fact]
    public void DenyAnyIsolatesAPortAndARuleChangeAppliesToTheNextFrame()
    {
        _pc.SetRules([new VfrRule(VfrAction.Deny)]);
        _pa.Send(P(ArpRequest(Mac(1), "10.0.0.1", "10.0.0.3")));
        Assert.Empty(_c.Packets);
        Assert.False(_pc.Send(P(Sized(Mac(3), Broadcast, 60))));
        _pc.SetRules([]);
        _pa.Send(P(ArpRequest(Mac(1), "10.0.0.1", "10.0.0.3")));
        Assert.Single(_c.Packets);
    }

    [Theory]
    [InlineData(10)]  // shorter than an Ethernet header
    [InlineData(30)]  // IPv4 EtherType, IPv4 header cut short
    public void ShortFramesAreDroppedAsMalformed(int length)
    {
        byte[] f = Tcp(Mac(1), Broadcast, "10.0.0.1", "10.0.0.2", 1, 2)[..length];
        Assert.False(_pa.Send(P(f)));
        Assert.Equal(1, _pa.Counters.Malformed);
        Assert.Empty(_b.Packets);
    }

    [Fact]
    public void BadIpv4HeadersAreDroppedAsMalformed()
    {
        byte[] ihl = Tcp(Mac(1), Broadcast, "10.0.0.1", "10.0.0.2", 1, 2);
        ihl[14] = 0x43; // IHL 3: shorter than the fixed header
        byte[] total = Tcp(Mac(1), Broadcast, "10.0.0.1", "10.0.0.2", 1, 2);
        total[16] = 0xff; // total length past the frame
        byte[] version = Tcp(Mac(1), Broadcast, "10.0.0.1", "10.0.0.2", 1, 2);
        version[14] = 0x65;
        byte[] truncatedTcp = Ipv4(Mac(1), Broadcast, "10.0.0.1", "10.0.0.2", 6, new byte[8]); // no room for a TCP header
        byte[] bigIhl = Tcp(Mac(1), Broadcast, "10.0.0.1", "10.0.0.2", 1, 2, payload: 0);
        bigIhl[14] = 0x4f; // 60-byte header, longer than total length 40
        foreach (byte[] f in new[] { ihl, total, version, truncatedTcp, bigIhl })
        {
            Assert.False(_pa.Send(P(f)));
        }

        Assert.Equal(5, _pa.Counters.Malformed);
        Assert.Empty(_b.Packets);
    }

    [Fact]
    public void ALaterFragmentHasNoPortsSoPortRulesDoNotMatchIt()
    {
        _pa.SetRules([new VfrRule(VfrAction.Deny, Protocol: VfrProtocol.Tcp, DestinationPorts: new VfrPortRange(5001))]);
        byte[] frag = Tcp(Mac(1), Broadcast, "10.0.0.1", "10.0.0.2", 1, 5001);
        frag[14 + 7] = 0x10; // fragment offset 16*8
        Assert.True(_pa.Send(P(frag)));
    }

    [Fact]
    public void AFullEndpointCountsDropsAndTheOthersStillGetTheFrame()
    {
        var full = new CapturingEndpoint(capacity: 0);
        VfrPort pf = _vfr.Attach("full", full);
        _pa.Send(P(Sized(Mac(1), Broadcast, 60)));
        Assert.Equal(1, pf.Counters.Full);
        Assert.Single(_b.Packets);
    }

    [Fact]
    public void TheMacTableIsBoundedAndForgetsADetachedPort()
    {
        for (int i = 0; i < Vfr.MaxLearned + 500; i++)
        {
            _pa.Send(P(Sized(Mac(1000 + i), Broadcast, 60)));
        }

        Assert.Null(_vfr.Lookup(Mac(1000 + Vfr.MaxLearned + 10))); // not learned: the table was full
        Assert.Same(_pa, _vfr.Lookup(Mac(1000)));
        _pa.Dispose();
        Assert.Null(_vfr.Lookup(Mac(1000)));
        Assert.False(_pa.Send(P(Sized(Mac(1), Broadcast, 60))));
        Assert.Equal(2, _vfr.Ports.Count);
    }

    [Fact]
    public void PrefixesParseAndContain()
    {
        Assert.Equal("10.1.0.0/16", Ipv4Prefix.Parse("10.1.2.3/16").ToString());
        Assert.True(Ipv4Prefix.Parse("0.0.0.0/0").Contains(Ip("203.0.113.9")));
        Assert.Null(Ipv4Prefix.TryParse("10.1.2/8"));
        Assert.Null(Ipv4Prefix.TryParse("10.1.2.3/33"));
        Assert.Null(Ipv4Prefix.TryParse("10.1.2.300"));
    }
}
