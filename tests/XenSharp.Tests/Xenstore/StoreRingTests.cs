using XenSharp.Abi;
using XenSharp.Backends.Xenstore;
using Xunit;

namespace XenSharp.Tests.Xenstore;

/// <summary>
/// The ring protocol over a page in a byte array: framing, wrap-around, partial messages, back-pressure, and hostile
/// indexes and lengths, which close only that connection (with the ring's error field set) and never throw.
/// </summary>
public sealed class StoreRingTests : IDisposable
{
    private readonly StoreFixture _f = new();
    private readonly HeapStorePage _page = new();
    private readonly GuestRing _guest;
    private int _notified;
    private StoreConnection _conn = null!;

    public StoreRingTests()
    {
        _guest = new GuestRing(_page.Memory);
        _f.Guest(3).Dispose();
    }

    public void Dispose() => _f.Dispose();

    private void Introduce(uint startIndex = 0)
    {
        _guest.ReqCons = _guest.ReqProd = startIndex;
        _guest.RspCons = _guest.RspProd = startIndex;
        _conn = _f.Store.Introduce(3, _page, () => Interlocked.Increment(ref _notified));
    }

    private void Send(XsMessageType type, uint reqId, string payload, uint tx = 0)
    {
        Assert.Equal(XenstoreLayout.HeaderSize + payload.Length, _guest.Produce(GuestRing.Message(type, reqId, tx, payload)));
        _f.Store.Service(_conn);
    }

    [Fact]
    public void IntroductionAdvertisesTheServerFeatures()
    {
        _page.Memory.AsSpan(XenstoreLayout.Connection, 4).Fill(0);
        _page.Memory[XenstoreLayout.Connection] = 1; // a guest waiting for a reconnection
        Introduce();
        Assert.Equal(XenstoreLayout.FeatureError | XenstoreLayout.FeatureWatchDepth | XenstoreLayout.FeatureDomidAny, _guest.Features);
        Assert.Equal(0, _page.Memory[XenstoreLayout.Connection]);
    }

    [Fact]
    public void ARequestGetsItsReplyWithReqIdAndTxIdEchoedAndANotification()
    {
        Introduce();
        Send(XsMessageType.Read, 41, "name\0");
        Assert.Equal(_guest.ReqProd, _guest.ReqCons);
        Assert.True(_notified > 0);
        Assert.Equal([(XsMessageType.Read, 41u, 0u, "guest3")], _guest.Messages());

        Send(XsMessageType.TransactionStart, 42, "\0");
        (XsMessageType type, uint reqId, _, string id) = Assert.Single(_guest.Messages());
        Assert.Equal((XsMessageType.TransactionStart, 42u), (type, reqId));
        uint tx = uint.Parse(id.TrimEnd('\0'), System.Globalization.CultureInfo.InvariantCulture);
        Send(XsMessageType.Read, 43, "nothing\0", tx);
        Assert.Equal([(XsMessageType.Error, 43u, tx, "ENOENT\0")], _guest.Messages());
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1000u)]             // messages straddle the end of req[] and rsp[]
    [InlineData(0xfffffff0u)]       // the free-running indexes wrap past 2^32
    public void MessagesCrossTheRingEndAndIndexWrap(uint start)
    {
        Introduce(start);
        for (uint i = 0; i < 40; i++)
        {
            Send(XsMessageType.Write, i, $"data/k{i}\0value-{i}");
            Assert.Equal([(XsMessageType.Write, i, 0u, "OK\0")], _guest.Messages());
        }

        Send(XsMessageType.Read, 99, "data/k39\0");
        Assert.Equal("value-39", Assert.Single(_guest.Messages()).Payload);
    }

    [Fact]
    public void PartialHeadersAndPayloadsWaitForTheRest()
    {
        Introduce();
        byte[] m = GuestRing.Message(XsMessageType.Read, 7, 0, "name\0");
        _guest.Produce(m.AsSpan(0, 10));
        _f.Store.Service(_conn);
        Assert.Empty(_guest.Messages());
        _guest.Produce(m.AsSpan(10, 8));
        _f.Store.Service(_conn);
        Assert.Empty(_guest.Messages());
        _guest.Produce(m.AsSpan(18));
        _f.Store.Service(_conn);
        Assert.Equal([(XsMessageType.Read, 7u, 0u, "guest3")], _guest.Messages());
    }

    [Fact]
    public void SeveralRequestsInOneNotificationAreAnsweredInOrder()
    {
        Introduce();
        for (uint i = 0; i < 10; i++)
        {
            _guest.Produce(GuestRing.Message(XsMessageType.GetDomainPath, i, 0, $"{i}\0"));
        }

        _f.Store.Service(_conn);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (XsMessageType.GetDomainPath, (uint)i, 0u, $"/local/domain/{i}\0")), _guest.Messages());
    }

    [Fact]
    public void RepliesLongerThanTheRingArriveAsTheGuestMakesRoom()
    {
        Introduce();
        string value = new('z', 1900);
        _f.Dom0.Write("/local/domain/3/data/long", value);
        Send(XsMessageType.Read, 1, "data/long\0");
        Assert.Equal((uint)XenstoreLayout.RingSize, _guest.RspProd - _guest.RspCons); // full, the rest waits
        for (int i = 0; i < 5 && _guest.Messages() is var got; i++)
        {
            if (got.Count == 1)
            {
                Assert.Equal(value, got[0].Payload);
                return;
            }

            _f.Store.Service(_conn); // the guest notifies after making room
        }

        Assert.Fail("the long reply never completed");
    }

    [Fact]
    public void TheOutstandingQuotaStopsReadingUntilRepliesAreTaken()
    {
        Introduce();
        _f.Dom0.Write("/local/domain/3/data/v", new string('v', 1000));
        for (uint i = 0; i < 30; i++)
        {
            _guest.Produce(GuestRing.Message(XsMessageType.Read, i, 0, "data/v\0"));
        }

        _f.Store.Service(_conn);
        Assert.NotEqual(_guest.ReqProd, _guest.ReqCons); // stopped reading with 20 replies waiting
        var replies = new List<uint>();
        for (int round = 0; round < 100 && replies.Count < 30; round++)
        {
            replies.AddRange(_guest.Messages().Select(m => m.ReqId));
            _f.Store.Service(_conn);
        }

        Assert.Equal(Enumerable.Range(0, 30).Select(i => (uint)i), replies);
        Assert.Equal(_guest.ReqProd, _guest.ReqCons);
    }

    [Fact]
    public void WatchEventsArriveOnTheRingWithZeroIds()
    {
        Introduce();
        Send(XsMessageType.Watch, 5, "data\0tok\0");
        Assert.Equal([(XsMessageType.Watch, 5u, 0u, "OK\0"), (XsMessageType.WatchEvent, 0u, 0u, "data\0tok\0")], _guest.Messages());
        int before = _notified;
        _f.Dom0.Write("/local/domain/3/data/x", "1");
        Assert.True(_notified > before);
        Assert.Equal([(XsMessageType.WatchEvent, 0u, 0u, "data/x\0tok\0")], _guest.Messages());
    }

    [Fact]
    public void JumpingRequestIndexesCloseTheConnectionWithRingIdx()
    {
        Introduce();
        _guest.ReqProd = _guest.ReqCons + XenstoreLayout.RingSize + 1;
        _f.Store.Service(_conn);
        Assert.Equal(XenstoreLayout.ErrorRingIdx, _guest.Error);
        AssertClosedButOthersFine();
    }

    [Fact]
    public void APayloadOver4096ClosesTheConnectionWithProto()
    {
        Introduce();
        _guest.Produce(GuestRing.Message((uint)XsMessageType.Write, 1, 0, [], len: 4097));
        _f.Store.Service(_conn);
        Assert.Equal(XenstoreLayout.ErrorProto, _guest.Error);
        AssertClosedButOthersFine();
    }

    [Fact]
    public void AResponseConsumerBeyondTheProducerClosesTheConnection()
    {
        Introduce();
        _guest.RspCons = _guest.RspProd - XenstoreLayout.RingSize - 5;
        Send(XsMessageType.Read, 1, "name\0");
        Assert.Equal(XenstoreLayout.ErrorRingIdx, _guest.Error);
        AssertClosedButOthersFine();
    }

    [Fact]
    public void APageTheGuestNoLongerOwnsIsNeverTouched()
    {
        Introduce();
        _guest.Produce(GuestRing.Message(XsMessageType.Read, 1, 0, "name\0"));
        _page.IsPresent = false;
        _f.Store.Service(_conn);
        _page.IsPresent = true;
        Assert.Equal(0U, _guest.ReqCons);
        Assert.Equal(0U, _guest.Error);
        AssertClosedButOthersFine();
    }

    [Fact]
    public void GarbageGetsErrorsNotAClosedConnection()
    {
        Introduce();
        var random = new Random(1234);
        var garbage = new byte[600];
        for (uint i = 0; i < 20; i++)
        {
            random.NextBytes(garbage);
            uint len = (uint)random.Next(0, 40);
            _guest.Produce(GuestRing.Message((uint)random.Next(), i, (uint)random.Next(0, 3), garbage[..(int)len]));
            _f.Store.Service(_conn);
            var replies = _guest.Messages();
            Assert.Equal(i, Assert.Single(replies).ReqId);
        }

        Assert.Equal(0U, _guest.Error);
        Send(XsMessageType.Read, 100, "name\0");
        Assert.Equal("guest3", Assert.Single(_guest.Messages()).Payload);
    }

    [Fact]
    public void AFloodIsFinishedByFurtherPasses()
    {
        Introduce();
        _f.Store.MessagesPerPass = 2;
        for (uint i = 0; i < 12; i++)
        {
            _guest.Produce(GuestRing.Message(XsMessageType.GetDomainPath, i, 0, "1\0"));
        }

        _f.Store.Service(_conn);
        var replies = new List<uint>();
        DateTime until = DateTime.UtcNow.AddSeconds(20);
        while (replies.Count < 12 && DateTime.UtcNow < until)
        {
            using (_page.Open())
            {
                replies.AddRange(_guest.Messages().Select(m => m.ReqId));
            }

            Thread.Sleep(5);
        }

        Assert.Equal(Enumerable.Range(0, 12).Select(i => (uint)i), replies);
    }

    [Fact]
    public void AReleasedDomainIsNoLongerServed()
    {
        Introduce();
        _f.Store.Release(3);
        _guest.Produce(GuestRing.Message(XsMessageType.Read, 1, 0, "name\0"));
        _f.Store.Service(_conn);
        Assert.Equal(0U, _guest.ReqCons);
        Assert.False(_f.Store.IsIntroduced(3));
    }

    /// <summary>The broken connection reads nothing more; the store still serves everyone else.</summary>
    private void AssertClosedButOthersFine()
    {
        uint cons = _guest.ReqCons;
        _guest.ReqCons = _guest.ReqProd = 0;
        _guest.RspCons = _guest.RspProd = 0;
        _guest.Produce(GuestRing.Message(XsMessageType.Read, 9, 0, "name\0"));
        _f.Store.Service(_conn);
        Assert.Equal(0U, _guest.ReqCons);
        Assert.Empty(_guest.Messages());
        _ = cons;

        Assert.True(_f.Store.IsIntroduced(3)); // until the domain is released
        Assert.Equal("guest3", _f.Dom0.Read("/local/domain/3/name"));
        var other = new HeapStorePage();
        var ring = new GuestRing(other.Memory);
        StoreConnection c = _f.Store.Introduce(4, other, () => { });
        ring.Produce(GuestRing.Message(XsMessageType.GetDomainPath, 1, 0, "4\0"));
        _f.Store.Service(c);
        Assert.Equal("/local/domain/4\0", Assert.Single(ring.Messages()).Payload);
    }
}
