using XenSharp.Abi;
using XenSharp.Backends.Xenstore;
using Xunit;
using static XenSharp.Tests.Xenstore.StoreFixture;

namespace XenSharp.Tests.Xenstore;

/// <summary>Quotas bind guests (with xenstored's defaults and its "reaching the quota is over it" rule), never domain 0.</summary>
public sealed class StoreQuotaTests : IDisposable
{
    private readonly StoreFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void TheDefaultsAreXenstoreds()
    {
        var q = new StoreQuota();
        Assert.Equal(1000, q[QuotaItem.Nodes]);
        Assert.Equal(128, q[QuotaItem.Watches]);
        Assert.Equal(20, q[QuotaItem.Outstanding]);
        Assert.Equal(10, q[QuotaItem.Transactions]);
        Assert.Equal(1024, q[QuotaItem.TransactionNodes]);
        Assert.Equal(5, q[QuotaItem.Permissions]);
        Assert.Equal(2048, q[QuotaItem.PathMax]);
        Assert.Equal(2048, q[QuotaItem.NodeSize]);
    }

    [Fact]
    public void NodesPerDomain()
    {
        _f.Store.Quota[QuotaItem.Nodes] = 6;
        using XsClient g = _f.Guest(3); // owns data/ already: 1 node
        Assert.Equal(XsError.None, g.Write("data/a", ""));
        Assert.Equal(XsError.None, g.Write("data/b/c", ""));           // 4 owned
        Assert.Equal(XsError.ENOSPC, g.Write("data/d/e", ""));         // 6 would reach the quota
        Assert.Null(g.Read("data/d"));                                  // nothing half-made
        Assert.Equal(XsError.None, g.Write("data/d", ""));             // 5
        Assert.Equal(XsError.ENOSPC, g.Mkdir("data/e"));
        Assert.Equal(XsError.None, g.Remove("data/b"));                // back to 3
        Assert.Equal(XsError.None, g.Mkdir("data/e"));
        for (int i = 0; i < 20; i++)
        {
            _f.Dom0.Mkdir($"/local/domain/3/data/dom0-{i}");            // domain 0 has no quota (the nodes are 3's)
        }

        // Inside a transaction too.
        uint tx = g.StartTransaction(out _);
        Assert.Equal(XsError.ENOSPC, g.Write("data/f", "", tx));
        g.EndTransaction(tx, commit: false);
    }

    [Fact]
    public void NodeSizeValueSizeAndPathLength()
    {
        using XsClient g = _f.Guest(3);
        string big = new('v', 2048 - 16 - 8);
        Assert.Equal(XsError.ENOSPC, g.Write("data/big", big));        // header + 1 permission + value reach 2048
        Assert.Equal(XsError.None, g.Write("data/big", big[..^1]));
        Assert.Equal(XsError.None, _f.Dom0.Write("/dom0big", new string('v', 4000)));

        string longRelative = "data/" + new string('p', 2048 - 5);
        Assert.Equal(XsError.EINVAL, g.Write(longRelative, "x"));
        Assert.Equal(XsError.ENOENT, g.Request(XsMessageType.Read, 0, longRelative[..^1]).Error);
    }

    [Fact]
    public void WatchesPerDomain()
    {
        using XsClient g = _f.Guest(3);
        for (int i = 0; i < 127; i++)
        {
            Assert.Equal(XsError.None, g.Watch("data", $"t{i}"));
        }

        Assert.Equal(XsError.ENOSPC, g.Watch("data", "one-too-many"));
        Assert.Equal(XsError.None, g.Unwatch("data", "t0"));
        Assert.Equal(XsError.None, g.Watch("data", "one-more"));
    }

    [Fact]
    public void NodesPerTransaction()
    {
        _f.Store.Quota[QuotaItem.TransactionNodes] = 4;
        using XsClient g = _f.Guest(3);
        uint tx = g.StartTransaction(out _);
        Assert.NotNull(g.Read("name", tx));
        Assert.NotNull(g.Read("data", tx));
        g.Read("data/x", tx); // 3 nodes touched
        Assert.Equal(XsError.ENOSPC, g.Request(XsMessageType.Read, tx, "data/y").Error);
        Assert.Equal(XsError.ENOMEM, g.EndTransaction(tx, commit: true)); // doomed
    }

    [Fact]
    public void EventsNobodyTakesAreBounded()
    {
        _f.Store.Quota.EventBytes = 200;
        using XsClient g = _f.Guest(3);
        g.Watch("data", "t");
        for (int i = 0; i < 10; i++)
        {
            g.Write($"data/n{i}", "");
        }

        IReadOnlyList<(string Path, string Token)> events = g.TakeEvents();
        Assert.Equal(7, events.Count); // 23 bytes for the first, 26 for each write: 7 fit in 200
        Assert.Equal(("data", "t"), events[0]);
    }
}
