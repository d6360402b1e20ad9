using XenSharp.Abi;
using XenSharp.Backends.Xenstore;
using Xunit;
using static XenSharp.Tests.Xenstore.StoreFixture;

namespace XenSharp.Tests.Xenstore;

/// <summary>Transactions: private views, commit, EAGAIN on conflicts, abort, and watch events only on commit.</summary>
public sealed class StoreTransactionTests : IDisposable
{
    private readonly StoreFixture _f = new();

    public void Dispose() => _f.Dispose();

    private XsClient Dom0 => _f.Dom0;

    [Fact]
    public void ChangesAreInvisibleUntilCommit()
    {
        using XsClient other = _f.Store.Connect(0);
        other.Watch("/t", "w");
        other.TakeEvents();
        uint tx = Dom0.StartTransaction(out XsError e);
        Assert.Equal(XsError.None, e);
        Assert.NotEqual(0U, tx);
        Assert.Equal(XsError.None, Dom0.Write("/t/a", "1", tx));
        Assert.Equal("1", Dom0.Read("/t/a", tx));
        Assert.Null(Dom0.Read("/t/a"));
        Assert.Null(other.Read("/t/a"));
        Assert.Empty(other.TakeEvents());

        XsReply end = Dom0.Request(XsMessageType.TransactionEnd, tx, "T");
        Assert.Equal(XsMessageType.TransactionEnd, end.Type);
        Assert.Equal("OK", end.Text);
        Assert.Equal("1", other.Read("/t/a"));
        Assert.Equal([("/t/a", "w")], other.TakeEvents()); // the written node fires; its new parent only as its ancestor
        AssertError(XsError.ENOENT, Dom0.Request(XsMessageType.Read, tx, "/t/a")); // the id is gone
    }

    [Fact]
    public void AnAbortedTransactionChangesNothing()
    {
        Dom0.Write("/t/a", "old");
        uint tx = Dom0.StartTransaction(out _);
        Dom0.Write("/t/a", "new", tx);
        Dom0.Remove("/t", tx);
        Assert.Null(Dom0.Read("/t/a", tx));
        Assert.Equal(XsError.None, Dom0.EndTransaction(tx, commit: false));
        Assert.Equal("old", Dom0.Read("/t/a"));
    }

    [Fact]
    public void AWriteToANodeTheTransactionReadIsAConflict()
    {
        Dom0.Write("/t/a", "1");
        uint tx = Dom0.StartTransaction(out _);
        Assert.Equal("1", Dom0.Read("/t/a", tx));
        Dom0.Write("/t/b", "x", tx);
        Dom0.Write("/t/a", "2"); // someone else
        Assert.Equal(XsError.EAGAIN, Dom0.EndTransaction(tx, commit: true));
        Assert.Null(Dom0.Read("/t/b"));
        Assert.Equal("2", Dom0.Read("/t/a"));
        Assert.Equal(XsError.ENOENT, Dom0.EndTransaction(tx, commit: true)); // the transaction is gone after EAGAIN
    }

    [Fact]
    public void NodesThatAppearOrVanishMeanwhileConflictToo()
    {
        uint tx = Dom0.StartTransaction(out _);
        Assert.Null(Dom0.Read("/t/new", tx));
        Dom0.Write("/t/new", "1");
        Assert.Equal(XsError.EAGAIN, Dom0.EndTransaction(tx, commit: true));

        Dom0.Write("/t/gone", "1");
        tx = Dom0.StartTransaction(out _);
        Assert.Equal("1", Dom0.Read("/t/gone", tx));
        Dom0.Remove("/t/gone");
        Assert.Equal(XsError.EAGAIN, Dom0.EndTransaction(tx, commit: true));
    }

    [Fact]
    public void UnrelatedWritesDoNotConflictAndTheLaterOfTwoInterferingTransactionsLoses()
    {
        Dom0.Write("/t/a", "1");
        Dom0.Write("/u/b", "2");
        uint t1 = Dom0.StartTransaction(out _);
        uint t2 = Dom0.StartTransaction(out _);
        Assert.NotEqual(t1, t2);
        Dom0.Read("/t/a", t1);
        Dom0.Read("/u/b", t2);
        Dom0.Write("/u/b", "from1", t1);
        Dom0.Write("/t/a", "from2", t2);
        Dom0.Write("/elsewhere", "z"); // touches neither transaction's nodes
        Assert.Equal(XsError.None, Dom0.EndTransaction(t1, commit: true));
        Assert.Equal(XsError.EAGAIN, Dom0.EndTransaction(t2, commit: true));
        Assert.Equal("from1", Dom0.Read("/u/b"));
        Assert.Equal("1", Dom0.Read("/t/a"));
    }

    [Fact]
    public void TransactionStartRules()
    {
        using XsClient g = _f.Guest(3);
        uint tx = g.StartTransaction(out _);
        AssertError(XsError.EBUSY, g.Request(XsMessageType.TransactionStart, tx, ""));
        AssertError(XsError.EINVAL, g.Request(XsMessageType.TransactionEnd, tx, "X"));
        AssertError(XsError.ENOENT, g.Request(XsMessageType.TransactionEnd, 0, "T"));
        Assert.Equal(XsError.None, g.EndTransaction(tx, commit: true));

        // Transactions are per connection: another client cannot use this one's id.
        uint mine = Dom0.StartTransaction(out _);
        AssertError(XsError.ENOENT, g.Request(XsMessageType.Read, mine, "name"));

        // The quota: 10 means 9 open at once.
        var open = Enumerable.Range(0, 9).Select(_ => g.StartTransaction(out XsError e) is var id && e == XsError.None ? id : 0).ToList();
        Assert.DoesNotContain(0U, open);
        g.StartTransaction(out XsError full);
        Assert.Equal(XsError.ENOSPC, full);
    }

    [Fact]
    public void GuestTransactionsSeePermissionsAndCommitWatches()
    {
        using XsClient g = _f.Guest(3);
        using XsClient watcher = _f.Store.Connect(0);
        watcher.Watch("/local/domain/3/data", "d");
        watcher.TakeEvents();
        uint tx = g.StartTransaction(out _);
        Assert.Equal(XsError.EACCES, g.Write("name", "x", tx));
        Assert.Equal(XsError.None, g.Write("data/a", "1", tx));
        Assert.Equal(XsError.None, g.Write("data/b", "2", tx));
        Assert.Equal(XsError.None, g.EndTransaction(tx, commit: true));
        Assert.Equal([("/local/domain/3/data/a", "d"), ("/local/domain/3/data/b", "d")], watcher.TakeEvents());
        Assert.Equal(["n3"], Dom0.GetPermissions("/local/domain/3/data/b")!);
    }

    [Fact]
    public void TheTransactionRetryHelperRetriesOnEagain()
    {
        int attempts = 0;
        XsError e = Dom0.Transact(tx =>
        {
            attempts++;
            Dom0.Read("/t/c", tx);
            if (attempts < 3)
            {
                Dom0.Write("/t/c", attempts.ToString(System.Globalization.CultureInfo.InvariantCulture)); // a conflicting write
            }

            return Dom0.Write("/t/d", "done", tx);
        });
        Assert.Equal(XsError.None, e);
        Assert.Equal(3, attempts);
        Assert.Equal("done", Dom0.Read("/t/d"));
    }
}
