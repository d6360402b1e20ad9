using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Backends.Net;
using XenSharp.Hypervisor;
using XenSharp.Tests.Builder;
using Xunit;
using static XenSharp.Abi.NetifLayout;
using static XenSharp.Tests.Net.TestFrames;

namespace XenSharp.Tests.Net;

/// <summary>
/// netback's receive side: packets switched to a VIF are grant-copied into the buffers its frontend posted, one page per
/// slot, responses in their requests' slots, offload flags passed on; a frontend that posts nothing or lies about its
/// indices costs bounded drops or the VIF, nothing else. Also guest to guest through the VFR, split event channels and
/// several queues.
/// </summary>
public sealed class NetbackRxTests : IDisposable
{
    private readonly XenHypervisor _hv = TestDomains.Hypervisor();
    private readonly Vfr _vfr = new();
    private readonly CapturingEndpoint _wire = new();
    private readonly VfrPort _wirePort;
    private readonly FakeNetfront _front;

    public NetbackRxTests()
    {
        _wirePort = _vfr.Attach("wire", _wire);
        _front = new FakeNetfront(_hv, "guest");
    }

    public void Dispose() => _hv.Dispose();

    private Netback Connect(FrontQueue q, NetbackFeatures? features = null) =>
        Netback.Connect(_hv, _front.Config(features ?? new NetbackFeatures(), q), _vfr, ownThread: false);

    [Fact]
    public void APacketGoesIntoAPostedBufferAndTheGuestIsNotified()
    {
        FrontQueue q = _front.AddQueue();
        using Netback vif = Connect(q);
        q.PostRx(4);
        vif.RunPending();
        _front.ClearPending();

        byte[] frame = Tcp(Mac(9), Broadcast, "10.0.0.9", "10.0.0.1", 80, 1000);
        Assert.True(_wirePort.Send(new NetPacket(frame, NetOffload.DataValidated)));
        vif.RunPending();

        var rsp = Assert.Single(q.RxResponses());
        Assert.Equal((0, 0, NetRxFlags.DataValidated, (short)frame.Length), (rsp.Id, rsp.Offset, rsp.Flags, rsp.Status));
        Assert.Equal(frame, rsp.Data);
        Assert.True(_front.IsPending(q.Config.RxPort));
        Assert.Equal((1L, (long)frame.Length), (vif.Counters.RxPackets, vif.Counters.RxBytes));
    }

    [Fact]
    public void WithoutBuffersAPacketWaitsAndAsksToBeToldOfThem()
    {
        FrontQueue q = _front.AddQueue();
        using Netback vif = Connect(q);
        _wirePort.Send(new NetPacket(Sized(Mac(9), Broadcast, 9000)));
        vif.RunPending();
        Assert.Equal(1, vif.InboundCount(0));
        Assert.Equal(3u, q.RxReqEvent); // three slots needed

        q.PostRx(3);
        vif.RunPending();
        Assert.Equal(Sized(Mac(9), Broadcast, 9000), Assert.Single(q.RxPackets()));
        Assert.Equal(0, vif.InboundCount(0));
    }

    [Fact]
    public void ALargePacketSpansSlotsWithMoreData()
    {
        FrontQueue q = _front.AddQueue();
        using Netback vif = Connect(q);
        q.PostRx(8);
        byte[] frame = Sized(Mac(9), Broadcast, 9000);
        _wirePort.Send(new NetPacket(frame));
        vif.RunPending();
        var rsp = q.RxResponses();
        Assert.Equal([4096, 4096, 808], rsp.Select(r => (int)r.Status));
        Assert.Equal([NetRxFlags.MoreData, NetRxFlags.MoreData, 0], rsp.Select(r => r.Flags));
        Assert.Equal(frame, rsp.SelectMany(r => r.Data).ToArray());
    }

    [Fact]
    public void AGsoPacketCarriesItsExtraSlotToAFrontendThatTakesGso()
    {
        FrontQueue q = _front.AddQueue();
        using Netback vif = Connect(q, NetbackFeatures.LinuxNetfront);
        q.PostRx(8);
        byte[] frame = Tcp(Mac(9), Broadcast, "10.0.0.9", "10.0.0.1", 80, 1000, payload: 6000);
        _wirePort.Send(new NetPacket(frame, NetOffload.CsumBlank | NetOffload.DataValidated, NetifExtra.GsoTypeTcpV4, 1448));
        vif.RunPending();
        var rsp = q.RxResponses();
        Assert.Equal(3, rsp.Count); // data, extra, data
        Assert.Equal(NetRxFlags.CsumBlank | NetRxFlags.DataValidated | NetRxFlags.MoreData | NetRxFlags.ExtraInfo, rsp[0].Flags);
        Assert.Equal(NetifExtra.TypeGso, rsp[1].Slot[ExtraType]);
        Assert.Equal(1448, BinaryPrimitives.ReadUInt16LittleEndian(rsp[1].Slot.AsSpan(ExtraGsoSize)));
        Assert.Equal(NetifExtra.GsoTypeTcpV4, rsp[1].Slot[ExtraGsoType]);
        Assert.Equal(frame, rsp[0].Data.Concat(rsp[2].Data).ToArray());
    }

    [Fact]
    public void AGsoPacketToAFrontendWithoutGsoIsCutIntoSegments()
    {
        FrontQueue q = _front.AddQueue();
        using Netback vif = Connect(q);
        q.PostRx(16);
        byte[] frame = Tcp(Mac(9), Broadcast, "10.0.0.9", "10.0.0.1", 80, 1000, payload: 6000);
        _wirePort.Send(new NetPacket(frame, NetOffload.CsumBlank | NetOffload.DataValidated, NetifExtra.GsoTypeTcpV4, 1448));
        _wirePort.Send(new NetPacket(Sized(Mac(9), Broadcast, 6000), NetOffload.None, NetifExtra.GsoTypeTcpV4, 1448)); // not TCP
        vif.RunPending();
        List<byte[]> got = q.RxPackets();
        Assert.Equal([1502, 1502, 1502, 1502, 262], got.Select(f => f.Length)); // 54 bytes of headers + 1448 each
        Assert.Equal(frame[54..], got.SelectMany(f => f[54..]).ToArray());
        Assert.Equal(1L, vif.Counters.RxUnfit);
    }

    [Fact]
    public void ABlankChecksumIsFilledForAFrontendWithoutChecksumOffload()
    {
        FrontQueue q = _front.AddQueue();
        using Netback vif = Connect(q, new NetbackFeatures(CsumOffload: false));
        q.PostRx(2);
        byte[] frame = Udp(Mac(9), Broadcast, "10.0.0.9", "10.0.0.1", 53, 1000);
        _wirePort.Send(new NetPacket(frame, NetOffload.CsumBlank | NetOffload.DataValidated));
        vif.RunPending();
        var rsp = Assert.Single(q.RxResponses());
        Assert.Equal(NetRxFlags.DataValidated, rsp.Flags);
        Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(rsp.Data.AsSpan(14 + 20 + 6)));
        Assert.Equal(0, UdpChecksumOverPseudoHeader(rsp.Data)); // the sum over everything checks
    }

    [Fact]
    public void AFrontendThatNeverPostsBuffersCostsBoundedDrops()
    {
        FrontQueue q = _front.AddQueue();
        using Netback vif = Connect(q);
        for (int i = 0; i < NetbackQueue.InboundMaxPackets + 100; i++)
        {
            _wirePort.Send(new NetPacket(Sized(Mac(9), Broadcast, 60)));
        }

        vif.RunPending();
        Assert.Equal(NetbackQueue.InboundMaxPackets, vif.InboundCount(0));
        Assert.Equal(100L, vif.Counters.RxFull);
        Assert.Equal(100L, vif.Port.Counters.Full);
        Assert.Null(vif.Disabled);
    }

    [Fact]
    public void BytesAreBoundedToo()
    {
        FrontQueue q = _front.AddQueue();
        using Netback vif = Connect(q);
        int big = 60_000;
        int fits = NetbackQueue.InboundMaxBytes / big;
        for (int i = 0; i < fits + 3; i++)
        {
            _wirePort.Send(new NetPacket(Sized(Mac(9), Broadcast, big)));
        }

        Assert.Equal(fits, vif.InboundCount(0));
        Assert.Equal(3L, vif.Counters.RxFull);
    }

    [Fact]
    public void RxReqProdMoreThanARingAheadIsFatal()
    {
        FrontQueue q = _front.AddQueue();
        using Netback vif = Connect(q);
        q.SetRxReqProd(RxRingSize + 5);
        _wirePort.Send(new NetPacket(Sized(Mac(9), Broadcast, 60)));
        vif.RunPending();
        Assert.Contains("impossible number of rx requests", vif.Disabled);
    }

    [Fact]
    public void ABadRxGrantIsAnErrorResponse()
    {
        FrontQueue q = _front.AddQueue();
        using Netback vif = Connect(q);
        q.PostRx(1, badRef: 99_999);
        _wirePort.Send(new NetPacket(Sized(Mac(9), Broadcast, 60)));
        vif.RunPending();
        Assert.Equal(RspError, Assert.Single(q.RxResponses()).Status);
        Assert.Equal(1L, vif.Counters.RxErrors);
        Assert.Null(vif.Disabled);
    }

    [Fact]
    public void TwoGuestsTalkThroughTheVfr()
    {
        FrontQueue qa = _front.AddQueue();
        using Netback a = Connect(qa);
        var other = new FakeNetfront(_hv, "other");
        FrontQueue qb = other.AddQueue();
        using Netback b = Netback.Connect(_hv, other.Config(qb), _vfr, ownThread: false);
        qa.PostRx(4);
        qb.PostRx(4);

        byte[] ping = Icmp(Mac(1), Broadcast, "10.0.0.1", "10.0.0.2");
        qa.Send(ping);
        a.RunPending();
        b.RunPending();
        Assert.Equal(ping, Assert.Single(qb.RxPackets()));

        byte[] pong = Icmp(Mac(2), Mac(1), "10.0.0.2", "10.0.0.1");
        qb.Send(pong);
        b.RunPending();
        a.RunPending();
        Assert.Equal(pong, Assert.Single(qa.RxPackets()));
        Assert.Single(_wire.Packets); // the reply went to the learned port only; the broadcast flooded
    }

    [Fact]
    public void ARuleOnAVifBlocksOneTcpPortBetweenGuestsWhileAnotherPasses()
    {
        FrontQueue qa = _front.AddQueue();
        using Netback a = Connect(qa);
        var other = new FakeNetfront(_hv, "other");
        FrontQueue qb = other.AddQueue();
        using Netback b = Netback.Connect(_hv, other.Config(qb), _vfr, ownThread: false);
        qb.PostRx(4);
        a.Port.SetRules([new VfrRule(VfrAction.Deny, VfrDirection.FromVif, VfrProtocol.Tcp, DestinationPorts: new VfrPortRange(5001))]);

        qa.Send(Tcp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2", 40000, 5001));
        qa.Send(Tcp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2", 40000, 5002));
        a.RunPending();
        b.RunPending();
        byte[] got = Assert.Single(qb.RxPackets());
        Assert.Equal(5002, BinaryPrimitives.ReadUInt16BigEndian(got.AsSpan(14 + 20 + 2)));
        Assert.Equal(1L, a.Port.Counters.Denied);
        Assert.Equal(2, qa.TxResponses().Count(x => x.Status == RspOkay)); // the guest's tx ring is answered either way
    }

    [Fact]
    public void SplitEventChannelsNotifyEachRingOnItsOwnPort()
    {
        FrontQueue q = _front.AddQueue(split: true);
        Assert.True(q.Config.SplitEvents);
        using Netback vif = Connect(q);
        q.PostRx(2);
        vif.RunPending();
        _front.ClearPending();
        q.Send(Sized(Mac(1), Mac(2), 60));
        vif.RunPending();
        Assert.True(_front.IsPending(q.Config.TxPort));
        Assert.False(_front.IsPending(q.Config.RxPort));
        _front.ClearPending();
        _wirePort.Send(new NetPacket(Sized(Mac(2), Mac(1), 60)));
        vif.RunPending();
        Assert.True(_front.IsPending(q.Config.RxPort));
        Assert.False(_front.IsPending(q.Config.TxPort));
    }

    [Fact]
    public void SeveralQueuesEachServeTheirRingsAndAFlowStaysOnOne()
    {
        FrontQueue q0 = _front.AddQueue();
        FrontQueue q1 = _front.AddQueue();
        using Netback vif = Netback.Connect(_hv, _front.Config(q0, q1), _vfr, ownThread: false);
        Assert.Equal(2, vif.QueueCount);
        q0.PostRx(64);
        q1.PostRx(64);
        q1.Send(Sized(Mac(1), Mac(2), 60));
        vif.RunPending();
        Assert.Single(_wire.Packets);

        for (ushort port = 1; port <= 32; port++)
        {
            _wirePort.Send(new NetPacket(Tcp(Mac(2), Mac(1), "10.0.0.2", "10.0.0.1", port, 80)));
            _wirePort.Send(new NetPacket(Tcp(Mac(2), Mac(1), "10.0.0.2", "10.0.0.1", port, 80)));
        }

        vif.RunPending();
        List<byte[]> p0 = q0.RxPackets();
        List<byte[]> p1 = q1.RxPackets();
        Assert.Equal(64, p0.Count + p1.Count);
        Assert.NotEmpty(p0);
        Assert.NotEmpty(p1);
        Assert.All(p0.GroupBy(SourcePort), g => Assert.Equal(2, g.Count())); // both packets of a flow on one queue
        Assert.All(p1.GroupBy(SourcePort), g => Assert.Equal(2, g.Count()));
    }

    [Fact]
    public void ARingGrantThatDoesNotMapRefusesToConnectAndHoldsNothing()
    {
        FrontQueue q = _front.AddQueue();
        var bad = new NetbackQueueConfig(q.Config.TxRingRef, 77_777, q.Config.TxPort);
        var e = Assert.Throws<NetbackConnectException>(() =>
            Netback.Connect(_hv, new NetbackConfig(_front.Id, 0, new NetbackFeatures(), [bad]), _vfr, ownThread: false));
        Assert.Contains("rx-ring-ref 77777", e.Message);
        Assert.Equal(0, _front.D.Grants.PinnedEntries); // the tx ring's mapping was undone
        Assert.Throws<NetbackConnectException>(() =>
            Netback.Connect(_hv, _front.Config(new NetbackFeatures(RxCopy: false), q), _vfr, ownThread: false));
        using Netback ok = Connect(q); // the port is still unbound for domain 0
    }

    [Fact]
    public void OnTheirOwnThreadsTwoVifsCarryAPacketEachWay()
    {
        FrontQueue qa = _front.AddQueue();
        var other = new FakeNetfront(_hv, "other");
        FrontQueue qb = other.AddQueue();
        qa.Send(Sized(Mac(1), Mac(2), 3000)); // queued before the backend connects
        using Netback a = Netback.Connect(_hv, _front.Config(qa), _vfr);
        using Netback b = Netback.Connect(_hv, other.Config(qb), _vfr);
        qb.PostRx(4);
        qa.PostRx(4);
        Assert.True(SpinWait.SpinUntil(() => a.Counters.TxPackets == 1, TimeSpan.FromMinutes(2)), "a's queued packet was not sent"); // hang guard
        qb.Send(Sized(Mac(2), Mac(1), 5000));
        Assert.True(SpinWait.SpinUntil(() => a.Counters.RxPackets == 1, TimeSpan.FromMinutes(2)), "b's packet did not reach a");
        Assert.Equal(Sized(Mac(2), Mac(1), 5000), Assert.Single(qa.RxPackets()));
        Assert.Equal([Sized(Mac(1), Mac(2), 3000)], _wire.Packets.Select(p => p.Frame)); // flooded before 2 was learned
    }

    [Fact]
    public void AFrontendDomainDestroyedWhileConnectedCostsNothingAndDisposingFreesItsRings()
    {
        FrontQueue q = _front.AddQueue();
        Netback vif = Connect(q);
        q.PostRx(2);
        vif.RunPending();
        _hv.Destroy(_front.D);
        Assert.Equal(2UL, _hv.Pool.OrphanedFrames); // the two ring pages stay with their mappings

        _wirePort.Send(new NetPacket(Sized(Mac(9), Broadcast, 60)));
        vif.RunPending(); // the buffer's grant no longer copies: an error response into the orphaned ring, no exception
        Assert.Equal(1L, vif.Counters.RxErrors);
        Assert.Null(vif.Disabled);

        vif.Dispose();
        Assert.Equal(0UL, _hv.Pool.OrphanedFrames);
        Assert.DoesNotContain(vif.Port, _vfr.Ports);
    }

    private static ushort SourcePort(byte[] frame) => BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(14 + 20));

    private static ushort UdpChecksumOverPseudoHeader(byte[] f)
    {
        int length = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(16)) - 20;
        var pseudo = new byte[12 + length];
        f.AsSpan(26, 8).CopyTo(pseudo);
        pseudo[9] = 17;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo.AsSpan(10), (ushort)length);
        f.AsSpan(34, length).CopyTo(pseudo.AsSpan(12));
        return IpChecksum(pseudo);
    }
}
