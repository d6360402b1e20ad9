using System.Globalization;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// TRANSACTION_START/END (transaction.c). A transaction conflicts when a node it read (and did not write) has a different
/// generation at commit than when it first read it — including a node that appeared or vanished meanwhile: the commit
/// is EAGAIN and nothing of it is applied. Watches for its changes fire only when it commits.
/// </summary>
public sealed partial class XenStore
{
    private XsError DoTransactionStart(XsRequest r)
    {
        StoreConnection c = r.Connection;
        if (r.Transaction is not null)
        {
            return XsError.EBUSY; // no nested transactions
        }

        if (Exceeds(c, QuotaItem.Transactions, c.Transactions.Count + 1))
        {
            return XsError.ENOSPC;
        }

        uint id = c.NextTransactionId;
        while (id == 0 || c.Transactions.ContainsKey(id))
        {
            id++;
        }

        c.NextTransactionId = id + 1;
        c.Transactions.Add(id, new StoreTransaction(id));
        Reply(r, id.ToString(CultureInfo.InvariantCulture));
        return XsError.None;
    }

    /// <summary>TRANSACTION_END T| commits, F| discards; either way the transaction id is gone afterwards.</summary>
    private XsError DoTransactionEnd(XsRequest r)
    {
        string? arg = r.OneArg();
        if (arg is not ("T" or "F"))
        {
            return XsError.EINVAL;
        }

        if (r.Transaction is not { } tx)
        {
            return XsError.ENOENT;
        }

        r.Connection.Transactions.Remove(tx.Id);
        r.Transaction = null; // the commit changes the database itself, and fires watches
        if (arg == "T")
        {
            XsError e = Commit(r, tx);
            if (e != XsError.None)
            {
                return e;
            }
        }

        Ack(r);
        return XsError.None;
    }

    private XsError Commit(XsRequest r, StoreTransaction tx)
    {
        if (tx.Failed)
        {
            return XsError.ENOMEM; // as xenstored answers a transaction something inside it could not do
        }

        foreach (TransactionAccess a in tx.Order)
        {
            if (a.CheckGeneration && (_nodes.GetValueOrDefault(a.Name)?.Generation ?? StoreNode.NoGeneration) != a.Generation)
            {
                return XsError.EAGAIN;
            }
        }

        if (tx.NodeCreated && Exceeds(r.Connection, QuotaItem.Nodes, NodeCount(r.Connection.Domid, tx)))
        {
            return XsError.ENOSPC;
        }

        foreach (TransactionAccess a in tx.Order)
        {
            if (!a.Modified)
            {
                continue;
            }

            if (a.Node is { } node)
            {
                node.Generation = ++_generation;
                StoreGlobal(node);
            }
            else
            {
                DeleteGlobal(a.Name);
            }

            if (a.FireWatch)
            {
                FireWatches(r, a.Name, null, a.Match, a.OldPermissions);
            }
        }

        return XsError.None;
    }
}
