using XenSharp.Abi;
using XenSharp.Backends.Block;
using XenSharp.Hypervisor.Events;
using Xunit;
using static XenSharp.Abi.BlkifLayout;
using static XenSharp.Tests.Block.FakeBlockFrontend;

namespace XenSharp.Tests.Block;

/// <summary>blkback against a fake frontend: the handshake, the feature nodes, and each request type served from a raw image.</summary>
public sealed class BlockBackendTests : IDisposable
{
    private readonly FakeBlockFrontend _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void AttachWritesTheFeaturesLinuxReadsAndWaitsForTheFrontend()
    {
        Assert.Equal(XenbusState.InitWait, _f.BackendState);
        Assert.Equal("256", _f.Node("sectors"));
        Assert.Equal("512", _f.Node("sector-size"));
        Assert.Equal("0", _f.Node("info"));
        Assert.Equal(("1", "1", "1", "1"), (_f.Node("feature-flush-cache"), _f.Node("feature-barrier"), _f.Node("feature-discard"), _f.Node("feature-persistent")));
        Assert.Equal(("256", "4", "4"), (_f.Node("feature-max-indirect-segments"), _f.Node("max-ring-page-order"), _f.Node("multi-queue-max-queues")));
        Assert.False(_f.Backend_.IsConnected);
    }

    [Fact]
    public void AnInitialisedFrontendIsConnected()
    {
        _f.Connect();
        Assert.Equal(XenbusState.Connected, _f.BackendState);
        Assert.True(_f.Backend_.IsConnected);
        Assert.Equal(0, _f.Guest.Events.Status((uint)_f.Port, out EventChannelStatus s));
        Assert.Equal(EventChannelStatusCode.Interdomain, s.Status);
    }

    [Fact]
    public void WritesReachTheFileAndReadsComeBack()
    {
        _f.Connect();
        _f.DataPage(0).Fill(0xa1);
        _f.DataPage(1).Fill(0xb2);
        var responses = _f.Submit(Request(OpWrite, 77, 10, (FirstDataRef, 0, 7), (FirstDataRef + 1, 2, 3)));
        Assert.Equal([(77ul, OpWrite, RspOkay)], responses);
        byte[] image = _f.ImageBytes();
        Assert.All(image.AsSpan(10 * 512, 4096).ToArray(), b => Assert.Equal(0xa1, b));
        Assert.All(image.AsSpan(18 * 512, 1024).ToArray(), b => Assert.Equal(0xb2, b));
        Assert.All(image.AsSpan(20 * 512, 512).ToArray(), b => Assert.Equal(0, b));

        _f.DataPage(5).Clear();
        Assert.Equal([(78ul, OpRead, RspOkay)], _f.Submit(Request(OpRead, 78, 17, (FirstDataRef + 5, 1, 3))));
        Assert.All(_f.DataPage(5)[..512].ToArray(), b => Assert.Equal(0, b));
        Assert.All(_f.DataPage(5)[512..1024].ToArray(), b => Assert.Equal(0xa1, b)); // sector 17
        Assert.All(_f.DataPage(5)[1024..2048].ToArray(), b => Assert.Equal(0xb2, b)); // sectors 18, 19
        Assert.Equal(2u, _f.Header(SharedRingLayout.RspProd));
        Assert.Equal(3u, _f.Header(SharedRingLayout.ReqEvent)); // asks to hear of the next request
    }

    [Fact]
    public void ResponsesNotifyTheFrontendWhenItAsked()
    {
        _f.Connect();
        Assert.False(_f.Guest.Events.IsPending((uint)_f.Port));
        _f.Submit(Request(OpFlushDiskCache, 1, 0));
        Assert.True(_f.Guest.Events.IsPending((uint)_f.Port)); // rsp_event was 1
    }

    [Fact]
    public void SeveralRequestsInOnePassAreAnsweredInOrder()
    {
        _f.Connect();
        var requests = Enumerable.Range(0, 32).Select(i => Request(OpWrite, (ulong)i, (ulong)i, (FirstDataRef + (uint)i, 0, 0))).ToArray();
        for (int i = 0; i < 32; i++)
        {
            _f.DataPage(i).Fill((byte)i);
        }

        var responses = _f.Submit(requests);
        Assert.Equal(Enumerable.Range(0, 32).Select(i => ((ulong)i, OpWrite, RspOkay)), responses);
        byte[] image = _f.ImageBytes();
        Assert.Equal(Enumerable.Range(0, 32).Select(i => (byte)i), Enumerable.Range(0, 32).Select(i => image[(i * 512) + 100]));
    }

    [Fact]
    public void FlushAndBarrierAreAnsweredAfterTheirDataIsWritten()
    {
        _f.Connect();
        _f.DataPage(2).Fill(0x5c);
        Assert.Equal(RspOkay, _f.Status(Request(OpFlushDiskCache, 1, 0)));
        Assert.Equal(RspOkay, _f.Status(Request(OpWriteBarrier, 2, 0)));
        Assert.Equal(RspOkay, _f.Status(Request(OpFlushDiskCache, 3, 40, (FirstDataRef + 2, 0, 0))));
        Assert.Equal(RspOkay, _f.Status(Request(OpWriteBarrier, 4, 41, (FirstDataRef + 2, 0, 0))));
        Assert.Equal(0x5c, _f.ImageBytes()[40 * 512]);
        Assert.Equal(0x5c, _f.ImageBytes()[41 * 512]);
    }

    [Fact]
    public void IndirectRequestsCarryManySegments()
    {
        _f.Connect();
        // The indirect page is data page 0: 16 segments, each a whole data page 1..16.
        Span<byte> list = _f.DataPage(0);
        list.Clear();
        for (int i = 0; i < 16; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(list[(i * 8)..], FirstDataRef + 1 + (uint)i);
            list[(i * 8) + 4] = 0;
            list[(i * 8) + 5] = 7;
            _f.DataPage(1 + i).Fill((byte)(0x10 + i));
        }

        Assert.Equal([(9ul, OpWrite, RspOkay)], _f.Submit(Indirect(OpWrite, 9, 64, 16, FirstDataRef)));
        byte[] image = _f.ImageBytes();
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (byte)(0x10 + i)), Enumerable.Range(0, 16).Select(i => image[(64 * 512) + (i * 4096) + 7]));

        for (int i = 0; i < 16; i++)
        {
            _f.DataPage(1 + i).Clear();
        }

        Assert.Equal([(10ul, OpRead, RspOkay)], _f.Submit(Indirect(OpRead, 10, 64, 16, FirstDataRef)));
        Assert.Equal(0x1f, _f.DataPage(16)[4095]);
    }

    [Fact]
    public void DiscardPunchesAHole()
    {
        _f.Connect();
        _f.DataPage(0).Fill(0xee);
        Assert.Equal(RspOkay, _f.Status(Request(OpWrite, 1, 8, (FirstDataRef, 0, 7))));
        Assert.Equal([(2ul, OpDiscard, RspOkay)], _f.Submit(Discard(2, 8, 8)));
        Assert.All(_f.ImageBytes().AsSpan(8 * 512, 4096).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(RspOkay, _f.Status(Discard(3, 0, 0)));
    }

    [Fact]
    public void AMultiPageRingServesSlotsThatStraddleItsPages()
    {
        // Order 2: 128 slots of 112 bytes; slot 72 runs from 8128 to 8240, across the second page's end.
        _f.Connect(order: 2, start: 72);
        Assert.Equal(XenbusState.Connected, _f.BackendState);
        _f.DataPage(3).Fill(0x77);
        Assert.Equal([(123456789012ul, OpWrite, RspOkay)], _f.Submit(Request(OpWrite, 123456789012, 5, (FirstDataRef + 3, 0, 0))));
        Assert.Equal(0x77, _f.ImageBytes()[5 * 512]);
        Assert.Equal(73u, _f.Header(SharedRingLayout.RspProd));
    }

    [Fact]
    public void SeveralQueuesEachWithItsRingAndChannel()
    {
        // Queue 0 on ring page 0 (grant 1), queue 1 on ring page 1 (grant 2), each with its own port.
        int port1 = _f.Guest.Events.AllocUnbound(0);
        _f.RingPage(1).Clear();
        _f.Dom0.Write($"{_f.Frontend}/multi-queue-num-queues", "2");
        _f.Dom0.Write($"{_f.Frontend}/queue-0/ring-ref", FirstRingRef.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _f.Dom0.Write($"{_f.Frontend}/queue-0/event-channel", _f.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _f.Dom0.Write($"{_f.Frontend}/queue-1/ring-ref", (FirstRingRef + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        _f.Dom0.Write($"{_f.Frontend}/queue-1/event-channel", port1.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _f.Connect(); // also writes top-level ring-ref/event-channel, which multi-queue ignores
        Assert.Equal((XenbusState.Connected, 2), (_f.BackendState, _f.Backend_.Queues));

        Span<byte> ring1 = _f.RingPage(1);
        ring1.Clear();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(ring1[SharedRingLayout.RspEvent..], 1);
        Request(OpFlushDiskCache, 4242, 0).CopyTo(ring1[SharedRingLayout.Slots..]);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(ring1[SharedRingLayout.ReqProd..], 1);
        _f.Pass();
        Assert.Equal(1u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(ring1[SharedRingLayout.RspProd..]));
        Assert.Equal(4242ul, System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(ring1[SharedRingLayout.Slots..]));
        Assert.True(_f.Guest.Events.IsPending((uint)port1));
        Assert.False(_f.Guest.Events.IsPending((uint)_f.Port)); // queue 0 had nothing to answer
        Assert.Equal(RspOkay, _f.Status(Request(OpRead, 1, 0, (FirstDataRef, 0, 0)))); // and still serves

        _f.Backend_.Dispose();
        Assert.Equal(0, _f.Guest.Grants.PinnedEntries);
    }

    [Fact]
    public void ClosingAndClosedFollowTheFrontendAndAReconnectWorks()
    {
        _f.Connect();
        _f.SetState(XenbusState.Closing);
        Assert.Equal(XenbusState.Closing, _f.BackendState);
        _f.SetState(XenbusState.Closed);
        Assert.Equal(XenbusState.Closed, _f.BackendState);
        Assert.False(_f.Backend_.IsConnected);
        Assert.Equal(0, _f.Guest.Grants.PinnedEntries); // the ring page is the guest's alone again
        _f.SetState(XenbusState.Initialising);
        Assert.Equal(XenbusState.InitWait, _f.BackendState);
        _f.Connect();
        Assert.Equal(XenbusState.Connected, _f.BackendState);
        Assert.Equal(RspOkay, _f.Status(Request(OpRead, 1, 0, (FirstDataRef, 0, 0))));
    }

    [Fact]
    public void DisposeReleasesTheRingAndTheChannel()
    {
        _f.Connect();
        _f.Backend_.Dispose();
        Assert.Equal(0, _f.Guest.Grants.PinnedEntries);
        Assert.Equal(0, _f.Guest.Events.Status((uint)_f.Port, out EventChannelStatus s));
        Assert.NotEqual(EventChannelStatusCode.Interdomain, s.Status);
    }
}
