using XenSharp.Abi;
using Xunit;
using static XenSharp.Abi.BlkifLayout;
using static XenSharp.Tests.Block.FakeBlockFrontend;

namespace XenSharp.Tests.Block;

/// <summary>What a frontend can put in the ring or the store, and blkback's answer to each: an error response or the device stopped, never an exception or another domain's data.</summary>
public sealed class BlockHostileInputTests : IDisposable
{
    private readonly FakeBlockFrontend _f = new(sectors: 64);

    public BlockHostileInputTests() => _f.Connect();

    public void Dispose() => _f.Dispose();

    public static TheoryData<string, byte[]> BadRequests => new()
    {
        { "no segments", Request(OpRead, 1, 0) },
        { "12 segments", Request(OpRead, 1, 0, Enumerable.Repeat((FirstDataRef, (byte)0, (byte)0), 12).ToArray()) },
        { "last before first", Request(OpRead, 1, 0, (FirstDataRef, 3, 2)) },
        { "last past the page", Request(OpWrite, 1, 0, (FirstDataRef, 0, 8)) },
        { "sector past the end", Request(OpRead, 1, 64, (FirstDataRef, 0, 0)) },
        { "range past the end", Request(OpWrite, 1, 60, (FirstDataRef, 0, 7)) },
        { "sector near 2^64", Request(OpRead, 1, ulong.MaxValue - 1, (FirstDataRef, 0, 7)) },
        { "grant never given", Request(OpRead, 1, 0, (200, 0, 0)) },
        { "grant past the table", Request(OpRead, 1, 0, (1_000_000, 0, 0)) },
        { "read into a read-only grant", Request(OpRead, 1, 0, (ReadOnlyRef, 0, 0)) },
        { "one bad grant among good ones", Request(OpWrite, 1, 0, (FirstDataRef, 0, 0), (200, 0, 0)) },
        { "indirect flush", Indirect(OpFlushDiskCache, 1, 0, 1, FirstDataRef) },
        { "indirect with no segments", Indirect(OpRead, 1, 0, 0, FirstDataRef) },
        { "indirect with 257 segments", Indirect(OpRead, 1, 0, 257, FirstDataRef, FirstDataRef + 1) },
        { "indirect page never granted", Indirect(OpRead, 1, 0, 1, 300) },
        { "discard past the end", Discard(1, 60, 5) },
        { "discard near 2^64", Discard(1, 8, ulong.MaxValue) },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public void AnErrorResponse(string what, byte[] request)
    {
        Assert.True(what.Length > 0);
        _f.DataPage(0).Fill(0x42);
        Assert.Equal(RspError, _f.Status(request));
        Assert.Equal(XenbusState.Connected, _f.BackendState); // the device carries on
        Assert.Equal(0, _f.Guest.Grants.PinnedEntries - 1); // only the ring stays mapped
        Assert.Equal(RspOkay, _f.Status(Request(OpRead, 2, 0, (FirstDataRef, 0, 0))));
    }

    [Fact]
    public void AnIndirectSegmentPastItsPageIsAnError()
    {
        Span<byte> list = _f.DataPage(0);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(list, FirstDataRef + 1);
        list[4] = 0;
        list[5] = 9;
        Assert.Equal(RspError, _f.Status(Indirect(OpWrite, 1, 0, 1, FirstDataRef)));
    }

    [Theory]
    [InlineData(OpReserved1)]
    [InlineData(7)]
    [InlineData(255)]
    public void AnUnknownOperationIsNotSupported(byte op)
    {
        byte[] request = Request(OpRead, 5, 0, (FirstDataRef, 0, 0));
        request[0] = op;
        Assert.Equal([(5ul, op, RspEopnotsupp)], _f.Submit(request));
    }

    [Fact]
    public void MoreRequestsThanTheRingHoldsStopTheDevice()
    {
        _f.PublishRaw(33);
        Assert.Equal(XenbusState.Closing, _f.BackendState);
        Assert.Equal(0u, _f.Header(SharedRingLayout.RspProd)); // not one of them served
        Assert.False(_f.Backend_.IsConnected);
        Assert.Equal(0, _f.Guest.Grants.PinnedEntries);
        Assert.Contains("bogus ring requests", _f.Dom0.Read("/local/domain/0/error/backend/vbd/1/51712/error"));
        _f.Pass(); // and nothing more happens
        Assert.Equal(XenbusState.Closing, _f.BackendState);
    }

    [Fact]
    public void AReqProdBehindTheResponsesStopsTheDeviceToo()
    {
        _f.PublishRaw(0xffff_fff0);
        Assert.Equal(XenbusState.Closing, _f.BackendState);
    }

    [Theory]
    [InlineData("ring-page-order", "5")]
    [InlineData("ring-page-order", "x")]
    [InlineData("protocol", "x86_32-abi")]
    [InlineData("multi-queue-num-queues", "5")]
    [InlineData("multi-queue-num-queues", "0")]
    [InlineData("multi-queue-num-queues", "2")]
    [InlineData("event-channel", "999")]
    [InlineData("ring-ref", "300")]
    [InlineData("ring-ref", "")]
    public void AFrontendNodeThatCannotBeServedFailsTheConnect(string node, string value)
    {
        using var f = new FakeBlockFrontend();
        f.Dom0.Write($"{f.Frontend}/{node}", value);
        if (node != "ring-ref")
        {
            f.Dom0.Write($"{f.Frontend}/ring-ref", FirstRingRef.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        f.Dom0.Write($"{f.Frontend}/event-channel", node == "event-channel" ? value : f.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        f.SetState(XenbusState.Initialised);
        Assert.Equal(XenbusState.Closing, f.BackendState);
        Assert.False(f.Backend_.IsConnected);
        Assert.NotNull(f.Dom0.Read("/local/domain/0/error/backend/vbd/1/51712/error"));
        Assert.Equal(0, f.Guest.Grants.PinnedEntries);
    }

    [Fact]
    public void AnotherDomainsGrantIsNotMapped()
    {
        using var other = new FakeBlockFrontend();
        other.DataPage(0).Fill(0x99);
        // Grant numbers are per domain: this frontend's grant 32 is its own page, never the other domain's.
        _f.DataPage(0).Clear();
        Assert.Equal(RspOkay, _f.Status(Request(OpRead, 1, 0, (FirstDataRef, 0, 0))));
        Assert.All(other.DataPage(0).ToArray(), b => Assert.Equal(0x99, b));
    }
}
