using System.Text;
using XenSharp.Abi;

namespace XenSharp.Backends.Xenstore;

/// <summary>WATCH, UNWATCH, RESET_WATCHES and the events changes fire (watch.c).</summary>
public sealed partial class XenStore
{
    /// <summary>
    /// WATCH path|token|[depth|]: a relative path gets relative event paths; the same path and token twice is EEXIST;
    /// the watch fires once at once with its own path, after the acknowledgement.
    /// </summary>
    private XsError DoWatch(XsRequest r)
    {
        StoreConnection c = r.Connection;
        List<string> args = r.Strings();
        int depth = -1;
        if (args.Count == 3 && (FeaturesOf(c) & XenstoreLayout.FeatureWatchDepth) != 0)
        {
            depth = CNumber.Atoi(args[2]);
            if (depth < 0)
            {
                return XsError.EINVAL;
            }
        }
        else if (args.Count != 2)
        {
            return XsError.EINVAL;
        }

        bool relative = !args[0].StartsWith('/') && !args[0].StartsWith('@');
        string? name = StorePath.Canonicalize(args[0], c.Home, allowSpecial: true, PathMax(c));
        if (name is null)
        {
            return XsError.EINVAL;
        }

        string token = args[1];
        if (c.Watches.Any(w => w.Node == name && w.Token == token))
        {
            return XsError.EEXIST;
        }

        if (Exceeds(c, QuotaItem.Watches, c.Watches.Count + 1))
        {
            return XsError.ENOSPC;
        }

        var watch = new StoreWatch(name, token, depth, relative ? c.Home.Length + 1 : 0);
        c.Watches.Add(watch);
        Ack(r);
        QueueEvent(c, watch.EventPath(name), token);
        return XsError.None;
    }

    private XsError DoUnwatch(XsRequest r)
    {
        StoreConnection c = r.Connection;
        List<string> args = r.Strings();
        if (args.Count != 2)
        {
            return XsError.EINVAL;
        }

        string? name = StorePath.Canonicalize(args[0], c.Home, allowSpecial: true, PathMax(c));
        if (name is null)
        {
            return XsError.EINVAL;
        }

        int i = c.Watches.FindIndex(w => w.Node == name && w.Token == args[1]);
        if (i < 0)
        {
            return XsError.ENOENT;
        }

        c.Watches.RemoveAt(i);
        Ack(r);
        return XsError.None;
    }

    /// <summary>RESET_WATCHES: the caller's watches and transactions go (Linux sends it when it starts).</summary>
    private XsError DoResetWatches(XsRequest r)
    {
        r.Connection.Watches.Clear();
        r.Connection.Transactions.Clear();
        Ack(r);
        return XsError.None;
    }

    /// <summary>
    /// A change to <paramref name="name"/>: inside a transaction it is remembered for the commit; otherwise every
    /// connection that may read the node (or its parent, or could read it before a permission change) gets an event
    /// for each of its watches the change matches.
    /// </summary>
    private void FireWatches(XsRequest r, string name, StoreNode? node, WatchMatch match, XsPermission[]? oldPermissions)
    {
        if (r.Transaction is { } tx)
        {
            if (!tx.Accessed.TryGetValue(name, out TransactionAccess? a))
            {
                tx.Failed = true;
                return;
            }

            if (!a.FireWatch)
            {
                a.FireWatch = true;
                a.Match = match;
            }
            else if (match == WatchMatch.Subtree)
            {
                a.Match = WatchMatch.Subtree;
            }

            return;
        }

        foreach (StoreConnection c in _connections)
        {
            if (c.Watches.Count == 0 || !WatchPermitted(c, name, node, oldPermissions))
            {
                continue;
            }

            foreach (StoreWatch w in c.Watches)
            {
                bool send = match switch
                {
                    WatchMatch.Exact => name == w.Node,
                    WatchMatch.Subtree => StorePath.IsChild(name, w.Node, w.Depth),
                    WatchMatch.Depth => name == w.Node || (w.Depth > 0 && StorePath.IsChild(name, w.Node, w.Depth)),
                    _ => name == w.Node && w.Depth < 0,
                };
                if (send)
                {
                    QueueEvent(c, w.EventPath(name), w.Token);
                }
            }
        }
    }

    /// <summary>watch_permitted: the watcher may read the node, or read it under its old permissions, or read its parent.</summary>
    private bool WatchPermitted(StoreConnection c, string name, StoreNode? node, XsPermission[]? oldPermissions)
    {
        if (oldPermissions is not null && (PermFor(c, oldPermissions) & XsAccess.Read) != 0)
        {
            return true;
        }

        node ??= _nodes.GetValueOrDefault(name);
        if (node is null)
        {
            return false;
        }

        if ((PermFor(c, node.Permissions) & XsAccess.Read) != 0)
        {
            return true;
        }

        return _nodes.GetValueOrDefault(StorePath.Parent(node.Name)) is { } parent && (PermFor(c, parent.Permissions) & XsAccess.Read) != 0;
    }

    /// <summary>
    /// Queues WATCH_EVENT path|token| (req_id and tx_id 0). As xenstored, an event too long for one message is dropped, as
    /// is one identical to an event still waiting (except special ones); an unprivileged connection whose waiting events
    /// reach <see cref="StoreQuota.EventBytes"/> loses new ones.
    /// </summary>
    private void QueueEvent(StoreConnection c, string path, string token)
    {
        string key = $"{path}\0{token}";
        int length = XenstoreLayout.HeaderSize + Encoding.Latin1.GetByteCount(key) + 1;
        if (length > XenstoreLayout.HeaderSize + XenstoreLayout.PayloadMax || c.Closed)
        {
            return;
        }

        if (!path.StartsWith('@') && c.WaitingEvents.ContainsKey(key))
        {
            return;
        }

        StoreQuota quota = _domains.TryGetValue(c.Domid, out StoreDomain? d) ? d.Quota : Quota;
        if (!c.IsPrivileged && quota.EventBytes != 0 && c.QueuedEventBytes + length > quota.EventBytes)
        {
            _log?.Limited($"xenstore-events-{c.Domid}", $"(d{c.Domid}) xenstore: watch events not taken from the ring; dropping new ones");
            return;
        }

        Enqueue(c, new OutMessage(Encode(XsMessageType.WatchEvent, 0, 0, Encoding.Latin1.GetBytes(key + "\0")), key));
    }

    /// <summary>
    /// A special event (fire_special_watches): watches on the bare name without a depth get it as is, watches on
    /// "name/&lt;domid&gt;" or on the name with a depth get "name/&lt;domid&gt;".
    /// </summary>
    private void FireSpecial(string name, uint domid)
    {
        if (!_nodes.TryGetValue(name, out StoreNode? node))
        {
            return;
        }

        var r = new XsRequest(_system, XsMessageType.WatchEvent, 0, 0, []);
        FireWatches(r, name, node, WatchMatch.NoDepth, null);
        FireWatches(r, $"{name}/{domid}", node, WatchMatch.Depth, null);
    }
}
