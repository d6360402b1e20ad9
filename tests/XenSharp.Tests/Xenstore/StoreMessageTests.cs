using System.Text;
using XenSharp.Abi;
using XenSharp.Backends.Xenstore;
using Xunit;
using static XenSharp.Tests.Xenstore.StoreFixture;

namespace XenSharp.Tests.Xenstore;

/// <summary>Every request type through an in-process connection, with the errors xenstored names.</summary>
public sealed class StoreMessageTests : IDisposable
{
    private readonly StoreFixture _f = new();

    public void Dispose() => _f.Dispose();

    private XsClient Dom0 => _f.Dom0;

    [Fact]
    public void TheStoreStartsWithXenstoredsInitialNodes()
    {
        Assert.Equal(["tool"], Dom0.Directory("/")!);
        Assert.Equal(["xenstored"], Dom0.Directory("/tool")!);
        Assert.Equal(["n0"], Dom0.GetPermissions("/")!);
        Assert.Equal(["n0", "r32757"], Dom0.GetPermissions("@releaseDomain")!); // everyone may watch it (DOMID_ANY)
        Assert.Equal(["n0"], Dom0.GetPermissions("@introduceDomain")!);
        Assert.Equal("", Dom0.Read("/"));
    }

    [Fact]
    public void WriteCreatesMissingParentsAndReadReturnsTheBytes()
    {
        Assert.Equal(XsError.None, Dom0.Write("/a/b/c", "value"));
        Assert.Equal("value", Dom0.Read("/a/b/c"));
        Assert.Equal("", Dom0.Read("/a/b"));
        Assert.Equal(["b"], Dom0.Directory("/a")!);
        Assert.Equal(["tool", "a"], Dom0.Directory("/")!);

        // Values are bytes: NULs included, no terminator added.
        XsReply w = Dom0.Request(XsMessageType.Write, Encoding.Latin1.GetBytes("/bin\0x\0y\0"));
        Assert.Equal(XsMessageType.Write, w.Type);
        Assert.Equal("OK\0", Encoding.ASCII.GetString(w.Payload));
        Assert.Equal(Encoding.Latin1.GetBytes("x\0y\0"), Dom0.Request(XsMessageType.Read, 0, "/bin").Payload);
        Assert.Equal(XsError.None, Dom0.Write("/a/b/c", ""));
        Assert.Empty(Dom0.Request(XsMessageType.Read, 0, "/a/b/c").Payload);
    }

    [Fact]
    public void MkdirKeepsAnExistingValueAndRmRemovesSubtrees()
    {
        Dom0.Write("/m/x", "1");
        Assert.Equal(XsError.None, Dom0.Mkdir("/m/x"));
        Assert.Equal("1", Dom0.Read("/m/x"));
        Assert.Equal(XsError.None, Dom0.Mkdir("/m/y/z"));
        Assert.Equal(["x", "y"], Dom0.Directory("/m")!);

        Assert.Equal(XsError.None, Dom0.Remove("/m"));
        Assert.Null(Dom0.Read("/m/y/z", out XsError e));
        Assert.Equal(XsError.ENOENT, e);
        Assert.Equal(["tool"], Dom0.Directory("/")!);
        Assert.Equal(XsError.None, Dom0.Remove("/m"));         // gone, but its parent exists: fine
        Assert.Equal(XsError.ENOENT, Dom0.Remove("/m/y/z"));   // its parent is gone too
        Assert.Equal(XsError.EINVAL, Dom0.Remove("/"));
    }

    [Fact]
    public void BadPathsAndArgumentsAreEinval()
    {
        foreach (string p in new[] { "", "/a/", "//", "/a b", "/x/../y", "@releaseDomain" })
        {
            Assert.Equal(XsError.EINVAL, Dom0.Request(XsMessageType.Read, 0, p).Error);
        }

        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.Read, Encoding.ASCII.GetBytes("/tool")));           // no NUL
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.Read, 0, "/tool", "/tool"));                         // two strings
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.Write, Encoding.ASCII.GetBytes("/novalue")));      // no NUL at all
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.Read, []));
        AssertError(XsError.ENOENT, Dom0.Request(XsMessageType.Read, 0, "/nothing"));
    }

    [Fact]
    public void GuestsUseRelativePathsAndOwnWhatTheyCreate()
    {
        using XsClient g = _f.Guest(3);
        Assert.Equal("guest3", g.Read("name"));
        Assert.Equal(XsError.None, g.Write("data/k/v", "x"));
        Assert.Equal("x", Dom0.Read("/local/domain/3/data/k/v"));
        Assert.Equal(["n3"], Dom0.GetPermissions("/local/domain/3/data/k/v")!);
        Assert.Equal(["k"], g.Directory("data")!);
        Assert.Equal(XsError.None, g.Remove("data/k"));
        Assert.Equal(XsError.ENOENT, g.Request(XsMessageType.Read, 0, "data/k").Error);

        // A privileged writer keeps the inherited owner.
        Dom0.Write("/local/domain/3/data/fromdom0", "1");
        Assert.Equal(["n3"], Dom0.GetPermissions("/local/domain/3/data/fromdom0")!);
    }

    [Fact]
    public void PermissionsHideWhatAGuestMayNotSee()
    {
        using XsClient g3 = _f.Guest(3);
        using XsClient g4 = _f.Guest(4);
        Dom0.Write("/local/domain/0/name", "Domain-0");

        Assert.Equal(XsError.EACCES, Err(g3.Request(XsMessageType.Read, 0, "/local/domain/4/name")));
        Assert.Equal(XsError.EACCES, Err(g3.Request(XsMessageType.Read, 0, "/local/domain/0/name")));
        Assert.Equal(XsError.EACCES, Err(g3.Request(XsMessageType.Directory, 0, "/local/domain")));
        Assert.Equal(XsError.EACCES, Err(g3.Request(XsMessageType.Read, 0, "/local/domain/4/nothing"))); // no leak of absence
        Assert.Equal(XsError.ENOENT, Err(g3.Request(XsMessageType.Read, 0, "nothing")));                  // its home is readable
        Assert.Equal(XsError.EACCES, g3.Write("name", "mine"));                                           // read-only
        Assert.Equal(XsError.EACCES, g3.Write("newkey", "x"));                                            // creating needs write on the parent
        Assert.Equal(XsError.EACCES, g3.Mkdir("/local/domain/4/data/x"));
        Assert.Equal(XsError.EACCES, g3.Remove("/local/domain/4/data"));

        // Granting 4 read access to a node of 3's lets it in.
        g3.Write("data/shared", "s");
        Assert.Equal(XsError.None, g3.SetPermissions("data/shared", XsPermission.None(3), XsPermission.Read(4)));
        Assert.Equal(XsError.ENOENT, Err(g4.Request(XsMessageType.Read, 0, "/local/domain/3/data/shared/x"))); // its nearest ancestor is readable
        Assert.Equal("s", g4.Read("/local/domain/3/data/shared"));
        Assert.Equal(XsError.EACCES, g4.Write("/local/domain/3/data/shared", "no"));
        Assert.Equal(["n3", "r4"], g4.GetPermissions("/local/domain/3/data/shared")!);
    }

    [Fact]
    public void SetPermsRulesAsXenstored()
    {
        using XsClient g = _f.Guest(3);
        g.Write("data/n", "v");
        Assert.Equal(XsError.EPERM, g.SetPermissions("data/n", XsPermission.None(4)));          // a guest cannot give a node away
        Assert.Equal(XsError.EACCES, g.SetPermissions("name", XsPermission.None(3)));            // not its node
        Assert.Equal(XsError.EINVAL, Err(g.Request(XsMessageType.SetPerms, 0, "data/n")));      // no permission at all
        Assert.Equal(XsError.EINVAL, Err(g.Request(XsMessageType.SetPerms, 0, "data/n", "x3")));
        Assert.Equal(XsError.EINVAL, Err(g.Request(XsMessageType.SetPerms, 0, "data/n", "r")));
        Assert.Equal(XsError.ENOSPC, g.SetPermissions("data/n", XsPermission.None(3), XsPermission.Read(1), XsPermission.Read(2),
            XsPermission.Read(4), XsPermission.Read(5)));                                            // 5 entries: the quota
        Assert.Equal(XsError.None, g.SetPermissions("data/n", XsPermission.None(3), XsPermission.Read(1), XsPermission.Read(2), XsPermission.Read(4)));

        // Domain 0 may give a node to another domain, and may set permissions on the special nodes.
        Assert.Equal(XsError.None, Dom0.SetPermissions("/local/domain/3/data/n", XsPermission.Both(4)));
        Assert.Equal(["b4"], Dom0.GetPermissions("/local/domain/3/data/n")!);
        Assert.Equal(XsError.None, Dom0.SetPermissions("@introduceDomain", XsPermission.None(0), XsPermission.Read(3)));
    }

    [Fact]
    public void PermissionsForDomainsThatDoNotExistAreIgnored()
    {
        using var f = new StoreFixture(domainExists: d => d is 3 or 4);
        using XsClient g3 = f.Guest(3);
        using XsClient g4 = f.Guest(4);
        g3.Write("data/n", "v");
        Assert.Equal(XsError.ENOENT, f.Dom0.SetPermissions("/local/domain/3/data/n", XsPermission.None(9)));
        Assert.Equal(XsError.None, g3.SetPermissions("data/n", XsPermission.None(3), XsPermission.Read(9), XsPermission.Read(4)));
        Assert.Equal(["n3", "r9", "r4"], g3.GetPermissions("data/n")!);
        Assert.Equal("v", g4.Read("/local/domain/3/data/n"));

        // DOMID_ANY is a real entry: every domain matches it.
        Assert.Equal(XsError.None, g3.SetPermissions("data/n", XsPermission.None(3), XsPermission.Any(XsAccess.Read)));
        Assert.Equal("v", g4.Read("/local/domain/3/data/n"));
    }

    [Fact]
    public void DirectoryPartPagesALongChildList()
    {
        var names = Enumerable.Range(0, 400).Select(i => $"child-with-a-longish-name-{i:000}").ToList();
        foreach (string n in names)
        {
            Dom0.Mkdir($"/big/{n}");
        }

        AssertError(XsError.E2BIG, Dom0.Request(XsMessageType.Directory, 0, "/big"));
        var got = new List<string>();
        string? generation = null;
        int offset = 0;
        for (int round = 0; round < 10; round++)
        {
            XsReply r = Dom0.Request(XsMessageType.DirectoryPart, 0, "/big", offset.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(XsMessageType.DirectoryPart, r.Type);
            Assert.True(r.Payload.Length <= XenstoreLayout.PayloadMax);
            string[] parts = Encoding.ASCII.GetString(r.Payload).Split('\0');
            generation ??= parts[0];
            Assert.Equal(generation, parts[0]);
            bool end = r.Payload[^1] == 0 && r.Payload[^2] == 0;
            string[] children = parts[1..^1].Where(s => s.Length > 0).ToArray();
            got.AddRange(children);
            offset += children.Sum(c => c.Length + 1);
            if (end)
            {
                break;
            }
        }

        Assert.Equal(names, got);
        XsReply past = Dom0.Request(XsMessageType.DirectoryPart, 0, "/big", "99999");
        Assert.Equal($"{generation}\0\0", Encoding.ASCII.GetString(past.Payload));
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.DirectoryPart, 0, "/big"));

        // The generation changes when the list does.
        Dom0.Mkdir("/big/one-more");
        Assert.NotEqual(generation, Dom0.Request(XsMessageType.DirectoryPart, 0, "/big", "0").Strings[0]);
    }

    [Fact]
    public void PrivilegedRequestsFromAGuestAreEacces()
    {
        using XsClient g = _f.Guest(3);
        foreach (XsMessageType t in new[]
        {
            XsMessageType.Control, XsMessageType.Introduce, XsMessageType.Release, XsMessageType.IsDomainIntroduced, XsMessageType.Resume,
            XsMessageType.SetTarget, XsMessageType.SetFeature, XsMessageType.GetQuota, XsMessageType.SetQuota,
        })
        {
            AssertError(XsError.EACCES, g.Request(t, 0, "3"));
        }

        AssertError(XsError.EACCES, g.Request(XsMessageType.GetFeature, 0, "0"));
    }

    [Fact]
    public void UnknownTypesAreEnosysAndUnknownTransactionsEnoent()
    {
        foreach (uint t in new uint[] { 15, 16, 20, 27, 99, 0xffff, uint.MaxValue })
        {
            AssertError(XsError.ENOSYS, Dom0.Request((XsMessageType)t, 0, "/"));
        }

        AssertError(XsError.ENOENT, Dom0.Request(XsMessageType.Read, 77, "/"));
        AssertError(XsError.ENOENT, Dom0.Request(XsMessageType.TransactionEnd, 77, "T"));
        Assert.Equal(XsError.None, Dom0.Request(XsMessageType.Watch, 77, "/", "t").Error); // WATCH ignores tx_id
    }

    [Fact]
    public void DomainPathsAndIntroductions()
    {
        using XsClient g = _f.Guest(3);
        Assert.Equal("/local/domain/7", g.Request(XsMessageType.GetDomainPath, 0, "7").Text);
        Assert.Equal("/local/domain/0", g.Request(XsMessageType.GetDomainPath, 0, "").Text);
        AssertError(XsError.EINVAL, g.Request(XsMessageType.GetDomainPath, 0, "x"));
        AssertError(XsError.EINVAL, g.Request(XsMessageType.GetDomainPath, 0, "65536"));

        Assert.Equal("F", Dom0.Request(XsMessageType.IsDomainIntroduced, 0, "3").Text);
        Assert.Equal("T", Dom0.Request(XsMessageType.IsDomainIntroduced, 0, "32752").Text); // DOMID_SELF
        _f.Store.Introduce(3, new HeapStorePage(), () => { });
        Assert.Equal("T", Dom0.Request(XsMessageType.IsDomainIntroduced, 0, "3").Text);
        Assert.True(_f.Store.IsIntroduced(3));
        Assert.Equal(XsError.None, Dom0.Request(XsMessageType.Introduce, 0, "3", "123", "1").Error);
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.Introduce, 0, "5", "123", "1"));
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.Introduce, 0, "3", "123", "0"));
        AssertError(XsError.ENOENT, Dom0.Request(XsMessageType.Release, 0, "5"));
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.Release, 0, "0"));
        Assert.Equal(XsError.None, Dom0.Request(XsMessageType.Resume, 0, "3").Error);
        Assert.Equal(XsError.None, Dom0.Request(XsMessageType.Release, 0, "3").Error);
        Assert.Equal("F", Dom0.Request(XsMessageType.IsDomainIntroduced, 0, "3").Text);
    }

    [Fact]
    public void FeaturesQuotasAndControl()
    {
        using XsClient g = _f.Guest(3);
        Assert.Equal("14", g.Request(XsMessageType.GetFeature, []).Text); // error field, watch depth, DOMID_ANY
        Assert.Equal(XsError.None, Dom0.Request(XsMessageType.SetFeature, 0, "5", "2").Error);
        Assert.Equal("2", Dom0.Request(XsMessageType.GetFeature, 0, "5").Text);
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.SetFeature, 0, "5", "1")); // reconnection is not offered
        _f.Store.Introduce(6, new HeapStorePage(), () => { });
        AssertError(XsError.EBUSY, Dom0.Request(XsMessageType.SetFeature, 0, "6", "2"));

        Assert.Equal(string.Join(' ', StoreQuota.Names), Dom0.Request(XsMessageType.GetQuota, []).Text);
        Assert.Equal("128", Dom0.Request(XsMessageType.GetQuota, 0, "watches").Text);
        Assert.Equal(XsError.None, Dom0.Request(XsMessageType.SetQuota, 0, "3", "watches", "2").Error);
        Assert.Equal("2", Dom0.Request(XsMessageType.GetQuota, 0, "3", "watches").Text);
        Assert.Equal("128", Dom0.Request(XsMessageType.GetQuota, 0, "watches").Text);
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.GetQuota, 0, "bogus"));
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.SetQuota, 0, "nodes", "0"));
        Assert.Equal(XsError.None, g.Watch("data", "a"));
        Assert.Equal(XsError.ENOSPC, g.Watch("data", "b"));

        Assert.Equal("OK", Dom0.Request(XsMessageType.Control, 0, "check").Text);
        Assert.Contains("check", Dom0.Request(XsMessageType.Control, 0, "help").Text, StringComparison.Ordinal);
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.Control, 0, "live-update"));
        AssertError(XsError.EINVAL, Dom0.Request(XsMessageType.Control, []));
    }

    [Fact]
    public void ResetWatchesDropsWatchesAndTransactions()
    {
        using XsClient g = _f.Guest(3);
        g.Watch("data", "t");
        uint tx = g.StartTransaction(out _);
        Assert.Equal("OK", g.Request(XsMessageType.ResetWatches, []).Text);
        AssertError(XsError.ENOENT, g.Request(XsMessageType.Read, tx, "name"));
        g.TakeEvents();
        Dom0.Write("/local/domain/3/data/x", "1");
        Assert.Empty(g.TakeEvents());
    }

    private static XsError Err(XsReply r) => r.Error;
}
