namespace XenSharp.Backends.Xenstore;

/// <summary>The per-domain quotas, in xenstored's order; GET_QUOTA/SET_QUOTA name them as <see cref="StoreQuota.Names"/>.</summary>
public enum QuotaItem
{
    /// <summary>Nodes a domain owns.</summary>
    Nodes,

    /// <summary>Watches of a domain.</summary>
    Watches,

    /// <summary>Replies queued for a domain and not yet taken from its ring: no new request is read at the limit.</summary>
    Outstanding,

    /// <summary>Open transactions of a domain.</summary>
    Transactions,

    /// <summary>Nodes one transaction may touch.</summary>
    TransactionNodes,

    /// <summary>Permission entries SET_PERMS may give a node.</summary>
    Permissions,

    /// <summary>Length of a path below /local/domain/&lt;id&gt;/.</summary>
    PathMax,

    /// <summary>Size of one node (header, permissions, value, children list).</summary>
    NodeSize,
}
