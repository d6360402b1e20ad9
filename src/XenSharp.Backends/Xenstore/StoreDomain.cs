namespace XenSharp.Backends.Xenstore;

/// <summary>
/// What the store keeps about a domain id that exists: whether it has been introduced (has a ring connection), the
/// server features its ring advertises, its quotas (a copy of the global ones when first seen) and the nodes it owns.
/// </summary>
internal sealed class StoreDomain(uint domid, uint features, StoreQuota quota)
{
    public uint Domid { get; } = domid;

    public bool Introduced { get; set; }

    public uint Features { get; set; } = features;

    public StoreQuota Quota { get; } = quota;

    public StoreConnection? Connection { get; set; }
}
