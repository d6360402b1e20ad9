using XenSharp.Backends.Xenbus;
using XenSharp.Hypervisor.Events;

namespace XenSharp.Backends.Block;

/// <summary>
/// One ring of a block device (a device has one, or one per queue with multi-queue): the mapped ring, its event
/// channel, the backend's private indices — the next request to take and the next response slot — and, when the
/// frontend negotiated feature-persistent, the ring's persistently mapped grants. Served only on the device's loop.
/// </summary>
internal sealed class BlockQueue(GrantedRing ring, HostEventChannel channel, uint start, PersistentGrants? grants) : IDisposable
{
    public GrantedRing Ring { get; } = ring;

    public HostEventChannel Channel { get; } = channel;

    /// <summary>The ring's kept grants; null without feature-persistent (every grant mapped for its request only).</summary>
    public PersistentGrants? Grants { get; } = grants;

    public uint ReqCons { get; set; } = start;

    public uint RspProdPvt { get; set; } = start;

    public void Dispose()
    {
        Grants?.Dispose();
        Channel.Close();
        Ring.Dispose();
    }
}
