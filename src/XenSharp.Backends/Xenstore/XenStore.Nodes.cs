using XenSharp.Abi;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// The database as a request sees it: the global nodes, or its transaction's copies of them; permission checks with
/// xenstored's rule for which error a refused caller may see; creating paths and removing subtrees.
/// </summary>
public sealed partial class XenStore
{
    /// <summary>
    /// Canonicalizes <paramref name="path"/> and reads the node, requiring <paramref name="perm"/>. A missing node is
    /// ENOENT and a refused one EACCES — but only if the nearest existing ancestor grants the caller some of
    /// <paramref name="perm"/>; otherwise both are EACCES, so nothing leaks about nodes the caller may not see
    /// (get_node_chk_perm / errno_from_parents). <paramref name="name"/> is the canonical name (null if invalid).
    /// </summary>
    private XsError GetNode(XsRequest r, string? path, XsAccess perm, bool allowSpecial, out string? name, out StoreNode? node)
    {
        StoreConnection c = r.Connection;
        node = null;
        name = StorePath.Canonicalize(path, c.Home, allowSpecial, PathMax(c));
        if (name is null)
        {
            return XsError.EINVAL;
        }

        XsError e = ReadNode(r, name, out node);
        if (e != XsError.None)
        {
            return e;
        }

        if (node is not null && (PermFor(c, node.Permissions) & perm) == perm)
        {
            return XsError.None;
        }

        e = node is null ? XsError.ENOENT : XsError.EACCES;
        node = null;
        return ErrorFromParents(r, name, e, perm);
    }

    private XsError ErrorFromParents(XsRequest r, string name, XsError error, XsAccess perm)
    {
        string n = name;
        StoreNode? parent;
        do
        {
            n = StorePath.Parent(n);
            XsError e = ReadNode(r, n, out parent);
            if (e != XsError.None)
            {
                return e;
            }
        }
        while (parent is null && n != StorePath.Root);

        return parent is not null && (PermFor(r.Connection, parent.Permissions) & perm) != 0 ? error : XsError.EACCES;
    }

    /// <summary>
    /// xenstored's perm_for_conn: privileged callers and the owner get everything (with <see cref="XsAccess.Owner"/>);
    /// others the first entry after the owner naming them (or DOMID_ANY, or their SET_TARGET domain), else the owner
    /// entry's letter, which is everybody's default.
    /// </summary>
    private static XsAccess PermFor(StoreConnection c, XsPermission[] perms)
    {
        const XsAccess all = XsAccess.Read | XsAccess.Write | XsAccess.Owner;
        if (c.IsPrivileged || Allows(c, perms[0]))
        {
            return all;
        }

        for (int i = 1; i < perms.Length; i++)
        {
            if ((perms[i].Access & XsAccess.Ignore) == 0 && Allows(c, perms[i]))
            {
                return perms[i].Access & all;
            }
        }

        return perms[0].Access & all;
    }

    private static bool Allows(StoreConnection c, XsPermission p) =>
        p.Domid == c.Domid || p.Domid == c.Target || p.Domid == XenstoreLayout.DomidAny;

    private int PathMax(StoreConnection c) =>
        c.IsPrivileged ? 0 : (_domains.TryGetValue(c.Domid, out StoreDomain? d) ? d.Quota : Quota)[QuotaItem.PathMax];

    /// <summary>
    /// Reads a node as the request sees it. Inside a transaction the first read of a node records its generation (for the
    /// commit's conflict check) and keeps a private copy; touching more nodes than the "transaction-nodes" quota is
    /// ENOSPC and dooms the transaction. Outside, the node returned is the database's own: do not modify it.
    /// </summary>
    private XsError ReadNode(XsRequest r, string name, out StoreNode? node)
    {
        if (r.Transaction is not { } tx)
        {
            _nodes.TryGetValue(name, out node);
            return XsError.None;
        }

        if (tx.Accessed.TryGetValue(name, out TransactionAccess? a))
        {
            node = a.Node;
            return XsError.None;
        }

        if (Exceeds(r.Connection, QuotaItem.TransactionNodes, tx.Accessed.Count + 1))
        {
            tx.Failed = true;
            node = null;
            return XsError.ENOSPC;
        }

        _nodes.TryGetValue(name, out StoreNode? global);
        a = new TransactionAccess(name)
        {
            Node = global?.Clone(),
            Generation = global?.Generation ?? StoreNode.NoGeneration,
            CheckGeneration = true,
            OldPermissions = global?.Permissions,
        };
        tx.Add(a);
        node = a.Node;
        return XsError.None;
    }

    /// <summary>Whether an unprivileged caller may store a node this big ("node-size" quota: ENOSPC).</summary>
    private XsError CheckNodeSize(StoreConnection c, StoreNode node) =>
        Exceeds(c, QuotaItem.NodeSize, node.AccountedSize) ? XsError.ENOSPC : XsError.None;

    /// <summary>Stores <paramref name="node"/> (a new object the caller built) with a new generation.</summary>
    private XsError WriteNode(XsRequest r, StoreNode node)
    {
        XsError e = CheckNodeSize(r.Connection, node);
        if (e != XsError.None)
        {
            if (r.Transaction is { } failed)
            {
                failed.Failed = true;
            }

            return e;
        }

        node.Generation = ++_generation;
        if (r.Transaction is { } tx)
        {
            if (!tx.Accessed.TryGetValue(node.Name, out TransactionAccess? a))
            {
                if (Exceeds(r.Connection, QuotaItem.TransactionNodes, tx.Accessed.Count + 1))
                {
                    tx.Failed = true;
                    return XsError.ENOSPC;
                }

                a = new TransactionAccess(node.Name) { OldPermissions = _nodes.GetValueOrDefault(node.Name)?.Permissions };
                tx.Add(a);
            }

            a.Node = node;
            a.Modified = true;
            return XsError.None;
        }

        StoreGlobal(node);
        return XsError.None;
    }

    private void DeleteNode(XsRequest r, string name)
    {
        if (r.Transaction is { } tx)
        {
            if (!tx.Accessed.TryGetValue(name, out TransactionAccess? a))
            {
                a = new TransactionAccess(name) { OldPermissions = _nodes.GetValueOrDefault(name)?.Permissions };
                tx.Add(a);
            }

            a.Node = null;
            a.Modified = true;
            return;
        }

        DeleteGlobal(name);
    }

    private void StoreGlobal(StoreNode node)
    {
        if (_nodes.TryGetValue(node.Name, out StoreNode? old))
        {
            CountNode(old.Owner, -1);
        }

        _nodes[node.Name] = node;
        CountNode(node.Owner, +1);
    }

    private void DeleteGlobal(string name)
    {
        if (_nodes.Remove(name, out StoreNode? old))
        {
            CountNode(old.Owner, -1);
        }
    }

    /// <summary>
    /// Creates <paramref name="name"/> with <paramref name="value"/> and any missing ancestors with empty values
    /// (construct_node): each new node inherits its parent's permissions, and an unprivileged creator becomes the owner.
    /// Every check (the "nodes" quota, node sizes) is made before anything is written.
    /// </summary>
    private XsError CreateNode(XsRequest r, string name, byte[] value, out StoreNode created)
    {
        StoreConnection c = r.Connection;
        created = null!;
        var missing = new List<string> { name }; // missing[0] = name, then its ancestors upwards
        string parentName = StorePath.Parent(name);
        StoreNode? parent;
        while (true)
        {
            XsError e = ReadNode(r, parentName, out parent);
            if (e != XsError.None)
            {
                return e;
            }

            if (parent is not null)
            {
                break;
            }

            if (parentName == StorePath.Root)
            {
                return XsError.ENOENT;
            }

            missing.Add(parentName);
            parentName = StorePath.Parent(parentName);
        }

        if (Exceeds(c, QuotaItem.Nodes, NodeCount(c.Domid, r.Transaction) + missing.Count))
        {
            return XsError.ENOSPC;
        }

        var nodes = new List<StoreNode>();
        StoreNode above = parent.Clone();
        above.Children.Add(StorePath.Leaf(missing[^1]));
        nodes.Add(above);
        for (int i = missing.Count - 1; i >= 0; i--)
        {
            XsPermission[] perms = (XsPermission[])above.Permissions.Clone();
            if (!c.IsPrivileged)
            {
                perms[0] = perms[0] with { Domid = c.Domid };
            }

            List<string> children = i > 0 ? [StorePath.Leaf(missing[i - 1])] : [];
            var node = new StoreNode(missing[i], i == 0 ? value : [], perms, children);
            nodes.Add(node);
            above = node;
        }

        foreach (StoreNode n in nodes)
        {
            XsError e = CheckNodeSize(c, n);
            if (e != XsError.None)
            {
                return e;
            }
        }

        foreach (StoreNode n in nodes)
        {
            XsError e = WriteNode(r, n);
            if (e != XsError.None)
            {
                return e; // only a transaction's node quota gets here, and it has doomed the transaction
            }
        }

        if (r.Transaction is { } tx)
        {
            tx.NodeCreated = true;
        }

        created = nodes[^1];
        return XsError.None;
    }

    /// <summary>
    /// Removes <paramref name="name"/> and its subtree (rm_node): children before parents, each firing watches on
    /// exactly its own name, the top one on its whole subtree and ancestors; then drops it from its parent's list.
    /// The subtree is read before anything is removed, so a read refused inside a transaction changes nothing.
    /// </summary>
    private XsError RemoveNode(XsRequest r, string name)
    {
        XsError e = ReadNode(r, StorePath.Parent(name), out StoreNode? parent);
        if (e != XsError.None)
        {
            return e;
        }

        if (parent is null)
        {
            return XsError.EINVAL;
        }

        e = CollectSubtree(r, name, out List<StoreNode> postOrder);
        if (e != XsError.None)
        {
            return e;
        }

        foreach (StoreNode node in postOrder)
        {
            DeleteNode(r, node.Name);
            FireWatches(r, node.Name, node, node.Name == name ? WatchMatch.Subtree : WatchMatch.Exact, null);
        }

        StoreNode changed = parent.Clone();
        changed.Children.Remove(StorePath.Leaf(name));
        return WriteNode(r, changed);
    }

    /// <summary>The existing nodes of a subtree, every node after all of its descendants (an explicit stack: paths may be deep).</summary>
    private XsError CollectSubtree(XsRequest r, string root, out List<StoreNode> postOrder)
    {
        postOrder = new List<StoreNode>();
        XsError e = ReadNode(r, root, out StoreNode? top);
        if (e != XsError.None || top is null)
        {
            return e;
        }

        var stack = new Stack<(StoreNode Node, int Next)>();
        stack.Push((top, 0));
        while (stack.Count > 0)
        {
            (StoreNode node, int next) = stack.Pop();
            if (next < node.Children.Count)
            {
                stack.Push((node, next + 1));
                e = ReadNode(r, StorePath.Child(node.Name, node.Children[next]), out StoreNode? child);
                if (e != XsError.None)
                {
                    return e;
                }

                if (child is not null)
                {
                    stack.Push((child, 0));
                }
            }
            else
            {
                postOrder.Add(node);
            }
        }

        return XsError.None;
    }

    /// <summary>Nodes <paramref name="domid"/> owns, counting the changes <paramref name="tx"/> would commit.</summary>
    private int NodeCount(uint domid, StoreTransaction? tx)
    {
        int n = _nodeCounts.GetValueOrDefault(domid);
        if (tx is null)
        {
            return n;
        }

        foreach (TransactionAccess a in tx.Order)
        {
            if (!a.Modified)
            {
                continue;
            }

            if (_nodes.TryGetValue(a.Name, out StoreNode? global) && global.Owner == domid)
            {
                n--;
            }

            if (a.Node?.Owner == domid)
            {
                n++;
            }
        }

        return n;
    }

    /// <summary>
    /// The domain is gone (domain_tree_remove): nodes it owns are removed with their subtrees (firing watches), and its
    /// entries are dropped from the permissions of every other node, the special ones included.
    /// </summary>
    private void RemoveDomainNodes(uint domid)
    {
        var r = new XsRequest(_system, XsMessageType.Rm, 0, 0, []);
        var owned = new List<string>();
        var stack = new Stack<string>();
        stack.Push(StorePath.Root);
        stack.Push(SpecialRelease);
        stack.Push(SpecialIntroduce);
        while (stack.Count > 0)
        {
            string name = stack.Pop();
            if (!_nodes.TryGetValue(name, out StoreNode? node))
            {
                continue;
            }

            if (node.Owner == domid && name != StorePath.Root && !name.StartsWith('@'))
            {
                owned.Add(name);
                continue; // its subtree goes with it
            }

            if (node.Permissions.Skip(1).Any(p => p.Domid == domid))
            {
                StoreNode changed = node.Clone();
                changed.Permissions = [node.Permissions[0], .. node.Permissions.Skip(1).Where(p => p.Domid != domid)];
                changed.Generation = ++_generation;
                StoreGlobal(changed);
            }

            for (int i = node.Children.Count - 1; i >= 0; i--)
            {
                stack.Push(StorePath.Child(name, node.Children[i]));
            }
        }

        foreach (string name in owned)
        {
            if (_nodes.ContainsKey(name))
            {
                RemoveNode(r, name);
            }
        }
    }
}
