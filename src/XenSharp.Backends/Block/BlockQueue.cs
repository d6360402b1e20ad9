using XenSharp.Backends.Xenbus;
using XenSharp.Hypervisor.Events;

namespace XenSharp.Backends.Block;

/// <summary>
/// One ring of a block device (a device has one, or one per queue with multi-queue): the mapped ring, its event
/// channel, and the backend's private indices — the next request to take and the next response slot. Served only on
/// the device's loop.
/// </summary>
internal sealed class BlockQueue(GrantedRing ring, HostEventChannel channel, uint start) : IDisposable
{
    public GrantedRing Ring { get; } = ring;

    public HostEventChannel Channel { get; } = channel;

    public uint ReqCons { get; set; } = start;

    public uint RspProdPvt { get; set; } = start;

    public void Dispose()
    {
        Channel.Close();
        Ring.Dispose();
    }
}
