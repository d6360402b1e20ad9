using XenSharp.Abi;
using XenSharp.Backends.Block;
using Xunit;
using static XenSharp.Abi.BlkifLayout;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;
using static XenSharp.Tests.Block.FakeBlockFrontend;

namespace XenSharp.Tests.Block;

/// <summary>
/// feature-persistent: negotiated only when the frontend writes it too; a reused grant mapped once and kept until the
/// ring disconnects; the cap of 1056 per ring with its least-recently-used purge; a frontend that changes or ends a
/// grant the backend keeps.
/// </summary>
public sealed class PersistentGrantTests : IDisposable
{
    private readonly FakeBlockFrontend _f = new();

    public void Dispose() => _f.Dispose();

    private BlockBackend B => _f.Backend_;

    [Fact]
    public void AFrontendThatWritesFeaturePersistentHasAReusedGrantMappedOnce()
    {
        _f.Connect(persistent: true);
        Assert.True(B.PersistentGrants);
        _f.DataPage(0).Fill(0xa1);
        Assert.Equal(RspOkay, _f.Status(Request(OpWrite, 1, 8, (FirstDataRef, 0, 7))));
        Assert.Equal((1L, 1), (B.GrantMaps, B.KeptGrants));
        Assert.Equal(2, _f.Guest.Grants.PinnedEntries); // the ring and the kept grant, between requests

        _f.DataPage(0).Clear();
        Assert.Equal(RspOkay, _f.Status(Request(OpRead, 2, 8, (FirstDataRef, 0, 7)))); // the same grant, now for a read
        Assert.Equal(RspOkay, _f.Status(Request(OpWrite, 3, 16, (FirstDataRef, 0, 7), (FirstDataRef, 0, 7))));
        Assert.Equal(1L, B.GrantMaps); // not one map more
        Assert.All(_f.DataPage(0).ToArray(), b => Assert.Equal(0xa1, b));
        Assert.All(_f.ImageBytes().AsSpan(16 * 512, 8192).ToArray(), b => Assert.Equal(0xa1, b));
    }

    [Fact]
    public void RequestsOnKeptGrantsAllocateNothing()
    {
        _f.Connect(persistent: true);
        byte[][] requests = Enumerable.Range(0, 8).Select(i => Request(i % 2 == 0 ? OpWrite : OpRead, (ulong)i, (ulong)i * 8, (FirstDataRef, 0, 7), (FirstDataRef + 1, 0, 7))).ToArray();
        _f.Submit(requests); // the grants mapped and kept, the code warm
        long empty = AllocatedBy(_f.Pass); // what a pass costs with nothing to serve (the store's poll)
        _f.Publish(requests);
        long served = AllocatedBy(_f.Pass);
        Assert.Equal(16u, _f.Header(SharedRingLayout.RspProd));
        Assert.Equal(2L, B.GrantMaps);
        Assert.Equal(empty, served);

        static long AllocatedBy(Action a)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            a();
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("0")]
    [InlineData("yes")]
    public void WithoutItEveryRequestMapsAndUnmapsItsGrants(string? value)
    {
        if (value is not null)
        {
            _f.Dom0.Write($"{_f.Frontend}/feature-persistent", value);
        }

        _f.Connect();
        Assert.False(B.PersistentGrants);
        Assert.Equal("1", _f.Node("feature-persistent")); // offered all the same
        Assert.Equal(RspOkay, _f.Status(Request(OpWrite, 1, 8, (FirstDataRef, 0, 7))));
        Assert.Equal(RspOkay, _f.Status(Request(OpRead, 2, 8, (FirstDataRef, 0, 7))));
        Assert.Equal((2L, 0), (B.GrantMaps, B.KeptGrants));
        Assert.Equal(1, _f.Guest.Grants.PinnedEntries); // only the ring
    }

    [Fact]
    public void IndirectPagesAreKeptLikeDataPages()
    {
        _f.Connect(persistent: true);
        Span<byte> list = _f.DataPage(0);
        list.Clear();
        for (int i = 0; i < 4; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(list[(i * 8)..], FirstDataRef + 1 + (uint)i);
            list[(i * 8) + 5] = 7;
        }

        Assert.Equal(RspOkay, _f.Status(Indirect(OpWrite, 1, 0, 4, FirstDataRef)));
        Assert.Equal(RspOkay, _f.Status(Indirect(OpRead, 2, 0, 4, FirstDataRef)));
        Assert.Equal((5L, 5), (B.GrantMaps, B.KeptGrants));
    }

    [Fact]
    public void AtMost1056PerRingBeyondThatPerRequestThenTheLeastRecentlyUsedArePurged()
    {
        // 1100 more grants (1000..2099) over the 40 data pages: the table grows to 5 frames.
        Assert.Equal(Okay, _f.Guest.Grants.Setup(5));
        for (uint g = 0; g < 1100; g++)
        {
            _f.Grant(1000 + g, GtfPermitAccess, _f.Guest.P2m[40 + (g % DataPages)]);
        }

        _f.Connect(persistent: true);
        Assert.Equal(1056, BlockBackend.MaxPersistentGrants);
        static byte[] Eleven(ulong id, uint first) =>
            Request(OpRead, id, 0, Enumerable.Range(0, 11).Select(i => (first + (uint)i, (byte)0, (byte)0)).ToArray());

        for (uint r = 0; r < 96; r++)
        {
            Assert.Equal(RspOkay, _f.Status(Eleven(r, 1000 + (r * 11))));
        }

        Assert.Equal((1056L, 1056), (B.GrantMaps, B.KeptGrants));
        Assert.Equal(1 + 1056, _f.Guest.Grants.PinnedEntries);

        // Full: 11 new grants are mapped for their request only; after that pass the 50 least recently used go (5 %).
        Assert.Equal(RspOkay, _f.Status(Eleven(96, 1000 + 1056)));
        Assert.Equal((1067L, 1056 - 50), (B.GrantMaps, B.KeptGrants));
        Assert.Equal(1 + 1006, _f.Guest.Grants.PinnedEntries);

        Assert.Equal(RspOkay, _f.Status(Request(OpRead, 97, 0, (1000 + 1055, 0, 0)))); // recently used: still kept
        Assert.Equal(1067L, B.GrantMaps);
        Assert.Equal(RspOkay, _f.Status(Request(OpRead, 98, 0, (1000, 0, 0)))); // among the oldest: purged, mapped and kept again
        Assert.Equal((1068L, 1007), (B.GrantMaps, B.KeptGrants));
    }

    [Fact]
    public void DisconnectAndDisposeUnmapEveryKeptGrant()
    {
        _f.Connect(persistent: true);
        for (uint i = 0; i < 20; i++)
        {
            Assert.Equal(RspOkay, _f.Status(Request(OpRead, i, i, (FirstDataRef + i, 0, 0))));
        }

        Assert.Equal(21, _f.Guest.Grants.PinnedEntries);
        _f.SetState(XenbusState.Closing);
        _f.SetState(XenbusState.Closed);
        Assert.Equal(0, _f.Guest.Grants.PinnedEntries);

        // A reconnect negotiates again: without the frontend's node, no grant is kept.
        _f.Dom0.Remove($"{_f.Frontend}/feature-persistent");
        _f.SetState(XenbusState.Initialising);
        _f.Connect();
        Assert.False(B.PersistentGrants);
        Assert.Equal(RspOkay, _f.Status(Request(OpRead, 1, 0, (FirstDataRef, 0, 0))));
        Assert.Equal(1, _f.Guest.Grants.PinnedEntries);

        _f.SetState(XenbusState.Closing);
        _f.SetState(XenbusState.Closed);
        _f.SetState(XenbusState.Initialising);
        _f.Connect(persistent: true);
        Assert.Equal(RspOkay, _f.Status(Request(OpRead, 2, 0, (FirstDataRef, 0, 0))));
        Assert.Equal(2, _f.Guest.Grants.PinnedEntries);
        B.Dispose();
        Assert.Equal(0, _f.Guest.Grants.PinnedEntries);
    }

    [Fact]
    public void AReadOnlyGrantServesAWriteForItsRequestOnlyAndIsNoTargetForARead()
    {
        // blkif.h note 8 says a persistent frontend grants writable; one that does not still gets its writes served.
        _f.Connect(persistent: true);
        _f.ReadOnlyPage.Fill(0x6b);
        Assert.Equal(RspOkay, _f.Status(Request(OpWrite, 1, 4, (ReadOnlyRef, 0, 0))));
        Assert.Equal(0x6b, _f.ImageBytes()[4 * 512]);
        Assert.Equal(RspError, _f.Status(Request(OpRead, 2, 4, (ReadOnlyRef, 0, 0))));
        Assert.Equal(0, B.KeptGrants);
        Assert.Equal(1, _f.Guest.Grants.PinnedEntries);
    }

    [Fact]
    public void AFrontendThatPointsAKeptGrantAtAnotherPageIsServedFromThePageItGranted()
    {
        // Xen's semantics, which blkback cannot see past: an active grant keeps the frame it was mapped with; the
        // guest rewriting its entry changes nothing until the backend unmaps it. The frontend only confuses itself.
        _f.Connect(persistent: true);
        _f.DataPage(0).Fill(0x11);
        _f.DataPage(1).Fill(0x22);
        Assert.Equal(RspOkay, _f.Status(Request(OpWrite, 1, 0, (FirstDataRef, 0, 0))));
        _f.Grant(FirstDataRef, GtfPermitAccess, _f.Guest.P2m[41]); // the entry now names data page 1
        Assert.Equal(RspOkay, _f.Status(Request(OpWrite, 2, 1, (FirstDataRef, 0, 0))));
        Assert.Equal((0x11, 0x11), (_f.ImageBytes()[0], _f.ImageBytes()[512]));
        Assert.Equal(1L, B.GrantMaps);

        // At disconnect the grant is released like any other; mapped afresh, it is the page the entry names now.
        _f.SetState(XenbusState.Closing);
        _f.SetState(XenbusState.Closed);
        Assert.Equal(0, _f.Guest.Grants.PinnedEntries);
        _f.SetState(XenbusState.Initialising);
        _f.Connect(persistent: true);
        Assert.Equal(RspOkay, _f.Status(Request(OpWrite, 3, 2, (FirstDataRef, 0, 0))));
        Assert.Equal(0x22, _f.ImageBytes()[2 * 512]);
    }

    [Fact]
    public void AGrantTheFrontendEnded()
    {
        _f.Connect(persistent: true);
        Assert.Equal(RspOkay, _f.Status(Request(OpRead, 1, 0, (FirstDataRef, 0, 0))));

        // Kept, then ended by writing its entry (a Linux guest cannot: gnttab_end_foreign_access fails while it is
        // mapped): as in Xen, the backend's mapping holds the page, so the request is served on that page.
        _f.Grant(FirstDataRef, 0, _f.Guest.P2m[40]);
        _f.DataPage(0).Fill(0x33);
        Assert.Equal(RspOkay, _f.Status(Request(OpWrite, 2, 3, (FirstDataRef, 0, 0))));
        Assert.Equal(0x33, _f.ImageBytes()[3 * 512]);

        // Never kept, then ended: an error for that request; the others in the same pass are served.
        _f.Grant(FirstDataRef + 5, 0, _f.Guest.P2m[45]);
        var responses = _f.Submit(
            Request(OpRead, 10, 0, (FirstDataRef + 4, 0, 0)),
            Request(OpRead, 11, 0, (FirstDataRef + 5, 0, 0)),
            Request(OpRead, 12, 0, (FirstDataRef + 6, 0, 0)));
        Assert.Equal([(10ul, OpRead, RspOkay), (11ul, OpRead, RspError), (12ul, OpRead, RspOkay)], responses);
        Assert.Equal(3, B.KeptGrants);
        Assert.Equal(XenbusState.Connected, _f.BackendState);

        // At disconnect every kept grant goes, the ended one too, and its entry says nobody maps it.
        _f.SetState(XenbusState.Closing);
        _f.SetState(XenbusState.Closed);
        Assert.Equal(0, _f.Guest.Grants.PinnedEntries);
        Assert.True(_f.Guest.Grants.TryReadEntry(FirstDataRef, out ushort flags, out _, out _));
        Assert.Equal(0, flags & (GtfReading | GtfWriting));
    }

    [Theory]
    [MemberData(nameof(BlockHostileInputTests.BadRequests), MemberType = typeof(BlockHostileInputTests))]
    public void EveryHostileRequestIsStillAnErrorAndTheDeviceCarriesOn(string what, byte[] request)
    {
        using var f = new FakeBlockFrontend(sectors: 64);
        f.Connect(persistent: true);
        Assert.True(what.Length > 0);
        Assert.Equal(RspError, f.Status(request));
        Assert.Equal(XenbusState.Connected, f.BackendState);
        Assert.Equal(f.Backend_.KeptGrants, f.Guest.Grants.PinnedEntries - 1); // nothing mapped but the ring and what is kept
        Assert.Equal(RspOkay, f.Status(Request(OpRead, 2, 0, (FirstDataRef, 0, 0))));
    }

    [Fact]
    public void EachQueueKeepsItsOwnGrants()
    {
        int port1 = _f.Guest.Events.AllocUnbound(0);
        _f.RingPage(1).Clear();
        _f.Dom0.Write($"{_f.Frontend}/multi-queue-num-queues", "2");
        _f.Dom0.Write($"{_f.Frontend}/queue-0/ring-ref", FirstRingRef.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _f.Dom0.Write($"{_f.Frontend}/queue-0/event-channel", _f.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _f.Dom0.Write($"{_f.Frontend}/queue-1/ring-ref", (FirstRingRef + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        _f.Dom0.Write($"{_f.Frontend}/queue-1/event-channel", port1.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _f.Connect(persistent: true);
        Assert.Equal(RspOkay, _f.Status(Request(OpRead, 1, 0, (FirstDataRef, 0, 0))));

        Span<byte> ring1 = _f.RingPage(1);
        ring1.Clear();
        Request(OpRead, 2, 0, (FirstDataRef, 0, 0)).CopyTo(ring1[SharedRingLayout.Slots..]);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(ring1[SharedRingLayout.ReqProd..], 1);
        _f.Pass();
        Assert.Equal(1u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(ring1[SharedRingLayout.RspProd..]));
        Assert.Equal((2L, 2), (B.GrantMaps, B.KeptGrants)); // one per ring, as xen-blkback's tree per ring
        B.Dispose();
        Assert.Equal(0, _f.Guest.Grants.PinnedEntries);
    }
}
