using XenSharp.Abi;
using XenSharp.Backends.Xenstore;
using Xunit;
using static XenSharp.Tests.Xenstore.StoreFixture;

namespace XenSharp.Tests.Xenstore;

/// <summary>Watches: the initial event, prefix matching, relative paths, depth, permissions, removals and the special events.</summary>
public sealed class StoreWatchTests : IDisposable
{
    private readonly StoreFixture _f = new();

    public void Dispose() => _f.Dispose();

    private XsClient Dom0 => _f.Dom0;

    [Fact]
    public void AWatchFiresOnceAtOnceAfterItsAcknowledgement()
    {
        XsReply r = Dom0.Request(XsMessageType.Watch, 0, "/w/never-written", "tok");
        Assert.Equal(XsMessageType.Watch, r.Type);
        Assert.Equal("OK", r.Text);
        Assert.Equal([("/w/never-written", "tok")], Dom0.TakeEvents());
        Assert.Empty(Dom0.TakeEvents());
        Assert.Equal(XsError.EEXIST, Dom0.Watch("/w/never-written", "tok"));
        Assert.Equal(XsError.None, Dom0.Watch("/w/never-written", "other-token"));
    }

    [Fact]
    public void EventsMatchTheWatchedNodeAndEverythingBelowIt()
    {
        Dom0.Watch("/w", "t");
        Dom0.TakeEvents();
        Dom0.Write("/w", "1");
        Dom0.Write("/w/a/b", "2");
        Dom0.Write("/wx", "3");       // a sibling sharing the prefix: no event
        Dom0.Write("/other", "4");
        Dom0.Mkdir("/w/a/b");         // exists: no change, no event
        Dom0.Mkdir("/w/c");
        Assert.Equal([("/w", "t"), ("/w/a/b", "t"), ("/w/c", "t")], Dom0.TakeEvents());
        Dom0.SetPermissions("/w/c", XsPermission.None(0));
        Assert.Equal([("/w/c", "t")], Dom0.TakeEvents());
        Assert.Equal(XsError.None, Dom0.Unwatch("/w", "t"));
        Assert.Equal(XsError.ENOENT, Dom0.Unwatch("/w", "t"));
        Dom0.Write("/w", "5");
        Assert.Empty(Dom0.TakeEvents());
    }

    [Fact]
    public void ARelativeWatchGetsRelativeEventPaths()
    {
        using XsClient g = _f.Guest(3);
        Assert.Equal(XsError.None, g.Watch("data", "rel"));
        Assert.Equal(XsError.None, g.Watch("/local/domain/3/data", "abs"));
        Assert.Equal([("data", "rel"), ("/local/domain/3/data", "abs")], g.TakeEvents());
        g.Write("data/x", "1");
        Assert.Equal([("data/x", "rel"), ("/local/domain/3/data/x", "abs")], g.TakeEvents());
        Assert.Equal(XsError.None, g.Unwatch("data", "rel"));
    }

    [Fact]
    public void DepthLimitsHowFarBelowAWatchMatches()
    {
        Assert.Equal(XsError.None, Dom0.Request(XsMessageType.Watch, 0, "/d", "zero", "0").Error);
        Assert.Equal(XsError.None, Dom0.Request(XsMessageType.Watch, 0, "/d", "one", "1").Error);
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.Watch, 0, "/d", "neg", "-1"));
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.Watch, 0, "/d"));
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.Watch, 0, "/d", "t", "1", "x"));
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.Watch, 0, "/d/", "t"));
        Dom0.TakeEvents();
        Dom0.Write("/d", "");
        Dom0.Write("/d/a", "");
        Dom0.Write("/d/a/b", "");
        Assert.Equal([("/d", "zero"), ("/d", "one"), ("/d/a", "one")], Dom0.TakeEvents());
    }

    [Fact]
    public void RemovingASubtreeFiresForEachNodeAndForTheWatchesAboveIt()
    {
        Dom0.Write("/r/a/b", "1");
        Dom0.Write("/r/c", "2");
        Dom0.Watch("/r", "top");
        Dom0.Watch("/r/a/b", "leaf");
        Dom0.Watch("/r/a/b/below", "deeper"); // never existed: a removal above it does not fire it
        Dom0.Watch("/", "root");
        Dom0.TakeEvents();
        Dom0.Remove("/r/a");
        List<(string, string)> events = [.. Dom0.TakeEvents()];
        Assert.Contains(("/r/a/b", "leaf"), events);
        Assert.Contains(("/r/a", "top"), events);
        Assert.Contains(("/r/a", "root"), events);
        Assert.DoesNotContain(("/r/a/b", "top"), events); // children fire only on exact watches
        Assert.DoesNotContain(events, e => e.Item2 == "deeper");
        Assert.Equal(0, events.IndexOf(("/r/a/b", "leaf"))); // children before their parent
    }

    [Fact]
    public void GuestsHearOnlyOfNodesTheyMayRead()
    {
        using XsClient g3 = _f.Guest(3);
        using XsClient g4 = _f.Guest(4);
        Assert.Equal(XsError.None, g3.Watch("/local/domain/4", "peek")); // allowed to set, but it never fires
        Assert.Equal(XsError.None, g3.Watch("/", "all"));
        g3.TakeEvents();
        g4.Write("data/secret", "x");
        Dom0.Write("/local/domain/3/data/mine", "y");
        Assert.Equal([("/local/domain/3/data/mine", "all")], g3.TakeEvents());

        // Losing read access still reports the change that took it away.
        g4.Write("data/shared", "s");
        g4.SetPermissions("data/shared", XsPermission.None(4), XsPermission.Read(3));
        g3.TakeEvents();
        g4.SetPermissions("data/shared", XsPermission.None(4));
        Assert.Equal([("/local/domain/4/data/shared", "peek"), ("/local/domain/4/data/shared", "all")], g3.TakeEvents());
    }

    [Fact]
    public void IntroduceAndReleaseFireTheSpecialWatches()
    {
        using XsClient g = _f.Guest(3);
        Dom0.Watch("@introduceDomain", "intro");
        Dom0.Watch("@releaseDomain", "rel");
        Assert.Equal(XsError.None, Dom0.Request(XsMessageType.Watch, 0, "@releaseDomain", "reldepth", "1").Error);
        Dom0.Watch("@releaseDomain/7", "rel7");
        Assert.Equal(XsError.None, g.Watch("@releaseDomain", "guest-rel"));
        Assert.Equal(XsError.None, g.Watch("@introduceDomain", "guest-intro")); // set, but @introduceDomain is not readable
        Dom0.TakeEvents();
        g.TakeEvents();

        _f.Store.Introduce(7, new HeapStorePage(), () => { });
        Assert.Equal([("@introduceDomain", "intro")], Dom0.TakeEvents());
        Assert.Empty(g.TakeEvents());

        _f.Store.Release(7);
        Assert.Equal([("@releaseDomain", "rel"), ("@releaseDomain/7", "reldepth"), ("@releaseDomain/7", "rel7")], Dom0.TakeEvents());
        Assert.Equal([("@releaseDomain", "guest-rel")], g.TakeEvents());

        _f.Store.Release(7); // not introduced any more: nothing fires
        Assert.Empty(Dom0.TakeEvents());
    }

    [Fact]
    public void ReleasingADomainRemovesTheNodesItOwnsAndItsPermissionEntries()
    {
        using XsClient g = _f.Guest(3);
        g.Write("data/x", "1");
        Dom0.Write("/shared/n", "v");
        Dom0.SetPermissions("/shared/n", XsPermission.None(0), XsPermission.Read(3), XsPermission.Read(4));
        Dom0.SetPermissions("@releaseDomain", XsPermission.None(0), XsPermission.Read(3));
        Dom0.Watch("/local/domain/3", "w");
        Dom0.TakeEvents();

        _f.Store.Introduce(3, new HeapStorePage(), () => { });
        _f.Store.Release(3);
        Assert.Null(Dom0.Read("/local/domain/3/data"));
        Assert.Equal("guest3", Dom0.Read("/local/domain/3/name")); // domain 0's: the toolstack removes it
        Assert.Equal(["n0", "r4"], Dom0.GetPermissions("/shared/n")!);
        Assert.Equal(["n0"], Dom0.GetPermissions("@releaseDomain")!);
        Assert.Contains(("/local/domain/3/data", "w"), Dom0.TakeEvents());
        Assert.Equal(XsError.EIO, g.Request(XsMessageType.Read, 0, "name").Error); // its connections are closed
    }

    [Fact]
    public void IdenticalPendingEventsAreNotQueuedTwice()
    {
        Dom0.Watch("/dup", "t");
        Dom0.TakeEvents();
        Dom0.Write("/dup", "1");
        Dom0.Write("/dup", "2");
        Dom0.Write("/dup", "3");
        Assert.Equal([("/dup", "t")], Dom0.TakeEvents());
    }
}
