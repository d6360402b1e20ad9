using XenSharp.Abi;
using XenSharp.Backends.Net;
using XenSharp.Hypervisor;
using XenSharp.Tests.Builder;
using Xunit;
using static XenSharp.Abi.NetifLayout;
using static XenSharp.Tests.Net.TestFrames;

namespace XenSharp.Tests.Net;

/// <summary>
/// netback's transmit side against a hand-written frontend: packets out of the guest by grant copy onto the VFR, every
/// slot answered, and each kind of hostile tx ring answered as xen-netback does (an error response, or the VIF shut)
/// without touching another VIF.
/// </summary>
public sealed class NetbackTxTests : IDisposable
{
    private readonly StringWriter _log = new();
    private readonly XenHypervisor _hv;
    private readonly Vfr _vfr = new();
    private readonly CapturingEndpoint _wire = new();
    private readonly FakeNetfront _front;
    private readonly FrontQueue _q;
    private readonly Netback _vif;

    public NetbackTxTests()
    {
        _hv = TestDomains.Hypervisor(_log);
        _vfr.Attach("wire", _wire);
        _front = new FakeNetfront(_hv, "guest");
        _q = _front.AddQueue();
        _vif = Netback.Connect(_hv, _front.Config(_q), _vfr, ownThread: false);
    }

    public void Dispose()
    {
        _vif.Dispose();
        _hv.Dispose();
    }

    [Fact]
    public void APacketLeavesTheGuestByGrantCopyAndIsAnswered()
    {
        byte[] frame = Tcp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2", 1000, 80);
        _front.ClearPending();
        ushort[] ids = _q.Send(frame, NetTxFlags.CsumBlank, offset: 100);
        Assert.True(_vif.QueueLoop(0).IsPending); // the guest's send only posted
        Assert.Empty(_wire.Packets);
        _vif.RunPending();

        NetPacket p = Assert.Single(_wire.Packets);
        Assert.Equal(frame, p.Frame);
        Assert.Equal(NetOffload.CsumBlank | NetOffload.DataValidated, p.Offload);
        Assert.Equal([(ids[0], RspOkay)], _q.TxResponses());
        Assert.True(_front.IsPending(_q.Config.TxPort));
        Assert.Equal(2u, _q.TxReqEvent); // final check: tell me of the next request
        Assert.Equal((1L, (long)frame.Length), (_vif.Counters.TxPackets, _vif.Counters.TxBytes));
    }

    [Fact]
    public void AMultiSlotPacketIsReassembledAndEverySlotAnswered()
    {
        byte[] frame = Sized(Mac(1), Mac(2), 9000);
        ushort[] ids = _q.Send(frame, offset: 3000);
        Assert.Equal(3, ids.Length); // 1096 + 4096 + 3808
        _vif.RunPending();
        Assert.Equal(frame, Assert.Single(_wire.Packets).Frame);
        Assert.Equal(ids.Select(id => (id, RspOkay)), _q.TxResponses());
    }

    [Fact]
    public void AGsoExtraSlotIsReadAndAnsweredNull()
    {
        byte[] frame = Tcp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2", 1000, 80, payload: 6000);
        ushort[] ids = _q.Send(frame, NetTxFlags.CsumBlank, gso: (1448, NetifExtra.GsoTypeTcpV4));
        _vif.RunPending();
        NetPacket p = Assert.Single(_wire.Packets);
        Assert.Equal((NetifExtra.GsoTypeTcpV4, (ushort)1448), (p.GsoType, p.GsoSize));
        Assert.Equal(frame, p.Frame);
        var rsp = _q.TxResponses();
        Assert.Equal([(ids[0], RspOkay), (0, RspNull), (ids[1], RspOkay)], rsp);
    }

    [Fact]
    public void AMulticastControlRequestIsAnsweredAndNotForwarded()
    {
        ushort id = _q.Tx(gref: 0, 0, NetTxFlags.ExtraInfo, 0);
        _q.TxExtra(NetifExtra.TypeMcastAdd, 0);
        _q.PushTx();
        _vif.RunPending();
        Assert.Equal([(id, RspOkay), (0, RspNull)], _q.TxResponses());
        Assert.Empty(_wire.Packets);
        Assert.Equal((0L, 0L), (_vif.Counters.TxPackets, _vif.Counters.TxErrors));
    }

    [Fact]
    public void ABadGrantRefIsAnErrorAndTheNextPacketStillGoes()
    {
        ushort bad = _q.Tx(gref: 100_000, 0, 0, 60);
        _q.PushTx();
        ushort[] good = _q.Send(Sized(Mac(1), Mac(2), 60));
        _vif.RunPending();
        Assert.Equal([(bad, RspError), (good[0], RspOkay)], _q.TxResponses());
        Assert.Single(_wire.Packets);
        Assert.Equal(1L, _vif.Counters.TxErrors);
        Assert.Null(_vif.Disabled);
    }

    [Fact]
    public void APacketShorterThanAnEthernetHeaderIsAnError()
    {
        ushort[] ids = _q.Send(new byte[10]);
        _vif.RunPending();
        Assert.Equal([(ids[0], RspError)], _q.TxResponses());
        Assert.Empty(_wire.Packets);
    }

    [Fact]
    public void FragmentsAddingUpToMoreThanThePacketAreAnError()
    {
        // A "packet" of 17 full pages (69632 bytes) declared as 65535: the fragments overrun the size.
        (var _, uint r) = _front.NewPage(readOnly: true);
        var ids = new List<ushort> { _q.Tx(r, 0, NetTxFlags.MoreData, MaxTxSize) };
        for (int i = 1; i < 17; i++)
        {
            ids.Add(_q.Tx(r, 0, i < 16 ? NetTxFlags.MoreData : (ushort)0, 4096));
        }

        _q.PushTx();
        _vif.RunPending();
        Assert.Equal(ids.Select(id => (id, RspError)), _q.TxResponses());
        Assert.Empty(_wire.Packets);
        Assert.Null(_vif.Disabled);
    }

    [Fact]
    public void NineteenSlotsAreAnErrorAndTwentyOneAreFatal()
    {
        (var _, uint r) = _front.NewPage(readOnly: true);
        SendSlots(r, 19);
        _vif.RunPending();
        Assert.All(_q.TxResponses(), x => Assert.Equal(RspError, x.Status));
        Assert.Null(_vif.Disabled);

        SendSlots(r, 21);
        _vif.RunPending();
        Assert.Contains("slots", _vif.Disabled);
    }

    [Fact]
    public void ReqProdMoreThanARingAheadShutsTheVifButNotAnother()
    {
        var other = new FakeNetfront(_hv, "other");
        FrontQueue oq = other.AddQueue();
        using Netback ovif = Netback.Connect(_hv, other.Config(oq), _vfr, ownThread: false);
        string? reported = null;
        _vif.FatalError += (_, why) => reported = why;

        _q.PushTx(reqProd: TxRingSize + 1);
        _vif.RunPending();
        Assert.Contains("impossible number of tx requests", _vif.Disabled);
        Assert.Equal(_vif.Disabled, reported);
        Assert.Equal(1L, _vif.Counters.Fatal);
        Assert.DoesNotContain(_vif.Port, _vfr.Ports); // off the switch
        Assert.Contains("fatal error, disabling the device", _log.ToString());
        Assert.False(_vif.Deliver(new NetPacket(Sized(Mac(2), Mac(1), 60))));

        oq.Send(Sized(Mac(3), Mac(4), 60));
        ovif.RunPending();
        Assert.Single(_wire.Packets); // the other VIF is served as before
        Assert.Null(ovif.Disabled);
    }

    [Fact]
    public void ASlotPastItsPageIsFatal()
    {
        (var _, uint r) = _front.NewPage(readOnly: true);
        _q.Tx(r, 4000, 0, 200); // the first slot: offset + size > 4096
        _q.PushTx();
        _vif.RunPending();
        Assert.Contains("crosses the page", _vif.Disabled);
    }

    [Fact]
    public void AFragmentPastItsPageIsFatal()
    {
        (var _, uint r) = _front.NewPage(readOnly: true);
        _q.Tx(r, 0, NetTxFlags.MoreData, 200);
        _q.Tx(r, 4090, 0, 100);
        _q.PushTx();
        _vif.RunPending();
        Assert.Contains("crosses the page", _vif.Disabled);
        Assert.Empty(_wire.Packets);
    }

    [Fact]
    public void AMissingFragmentIsFatal()
    {
        (var _, uint r) = _front.NewPage(readOnly: true);
        _q.Tx(r, 0, NetTxFlags.MoreData, 200); // more_data, but nothing follows
        _q.PushTx();
        _vif.RunPending();
        Assert.Contains("more slots than the frontend produced", _vif.Disabled);
    }

    [Theory]
    [InlineData(NetifExtra.TypeNone, 1448, NetifExtra.GsoTypeTcpV4, "invalid extra type")]
    [InlineData(9, 1448, NetifExtra.GsoTypeTcpV4, "invalid extra type")]
    [InlineData(NetifExtra.TypeGso, 0, NetifExtra.GsoTypeTcpV4, "GSO size must not be zero")]
    [InlineData(NetifExtra.TypeGso, 1448, 7, "bad GSO type")]
    public void ABadExtraInfoSlotIsFatal(byte type, ushort size, byte gsoType, string why)
    {
        (var _, uint r) = _front.NewPage(readOnly: true);
        _q.Tx(r, 0, NetTxFlags.ExtraInfo, 60);
        _q.TxExtra(type, 0, size, gsoType);
        _q.PushTx();
        _vif.RunPending();
        Assert.Contains(why, _vif.Disabled);
    }

    [Fact]
    public void AFullRingIsServedInBudgetedPassesAndAllAnswered()
    {
        (var m, uint r) = _front.NewPage(readOnly: true);
        Sized(Mac(1), Mac(2), 60).CopyTo(_front.Page(m));
        for (int i = 0; i < TxRingSize; i++)
        {
            _q.Tx(r, 0, 0, 60);
        }

        _q.PushTx();
        Assert.True(_vif.QueueLoop(0).RunPending());
        Assert.Equal(NetbackQueue.TxBudget, _wire.Packets.Count); // one pass takes a budget's worth
        Assert.True(_vif.QueueLoop(0).IsPending);                  // and asks for another
        _vif.RunPending();
        Assert.Equal(TxRingSize, _wire.Packets.Count);
        Assert.Equal(TxRingSize, _q.TxResponses().Count(x => x.Status == RspOkay));
    }

    [Fact]
    public void AFloodTowardAGuestThatPostsNothingIsBoundedOnBothSides()
    {
        var other = new FakeNetfront(_hv, "sink");
        FrontQueue oq = other.AddQueue();
        using Netback sink = Netback.Connect(_hv, other.Config(oq), _vfr, ownThread: false);
        (var m, uint r) = _front.NewPage(readOnly: true);
        Sized(Mac(1), Broadcast, 1000).CopyTo(_front.Page(m));
        for (int round = 0; round < 10; round++) // the flooder never reads its tx responses either
        {
            for (int i = 0; i < TxRingSize; i++)
            {
                _q.Tx(r, 0, 0, 1000);
            }

            _q.PushTx();
            _vif.RunPending();
            sink.RunPending();
        }

        Assert.Equal(10 * TxRingSize, _vif.Counters.TxPackets);
        Assert.Equal(NetbackQueue.InboundMaxPackets, sink.InboundCount(0));
        Assert.Equal((10 * TxRingSize) - NetbackQueue.InboundMaxPackets, sink.Counters.RxFull);
        Assert.Equal((null, null), (_vif.Disabled, sink.Disabled));
    }

    private void SendSlots(uint gref, int slots)
    {
        _q.Tx(gref, 0, NetTxFlags.MoreData, (ushort)(60 * slots));
        for (int i = 1; i < slots; i++)
        {
            _q.Tx(gref, 0, i + 1 < slots ? NetTxFlags.MoreData : (ushort)0, 60);
        }

        _q.PushTx();
    }
}
