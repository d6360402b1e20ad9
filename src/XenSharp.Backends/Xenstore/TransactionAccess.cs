namespace XenSharp.Backends.Xenstore;

/// <summary>
/// A node a transaction has touched (xenstored's accessed_node): the transaction's own copy (null: absent or deleted),
/// the node's generation when first read (checked at commit when <see cref="CheckGeneration"/>), whether the
/// transaction changed it, its permissions before the transaction (so watchers that lose access still hear of the
/// change), and the watch event the commit owes.
/// </summary>
internal sealed class TransactionAccess(string name)
{
    public string Name { get; } = name;

    public StoreNode? Node { get; set; }

    public ulong Generation { get; set; } = StoreNode.NoGeneration;

    public bool CheckGeneration { get; set; }

    public bool Modified { get; set; }

    public XsPermission[]? OldPermissions { get; set; }

    public bool FireWatch { get; set; }

    public WatchMatch Match { get; set; }
}
