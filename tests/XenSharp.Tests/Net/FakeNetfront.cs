using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Backends.Net;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Tests.Builder;
using static XenSharp.Abi.NetifLayout;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Tests.Net;

/// <summary>
/// A netfront written by hand over a domain of a hypervisor without KVM: it grants its own frames to domain 0 by
/// writing its grant table, allocates its ports unbound for domain 0, and writes requests into and reads responses out
/// of the ring pages directly, as a guest does through its mappings.
/// </summary>
internal sealed class FakeNetfront
{
    private readonly XenHypervisor _hv;
    private uint _nextRef = 8;
    private int _nextPfn = 16;

    public FakeNetfront(XenHypervisor hv, string name)
    {
        _hv = hv;
        D = hv.CreateDomain(name, 1, 512, new CapturingConsole());
    }

    public Domain D { get; }

    public ushort Id => D.Id;

    /// <summary>A fresh frame of the guest granted to domain 0.</summary>
    public (Mfn Mfn, uint Ref) NewPage(bool readOnly = false)
    {
        Mfn m = D.P2m[_nextPfn++];
        uint r = _nextRef++;
        Grant(r, (ushort)(GtfPermitAccess | (readOnly ? GtfReadonly : 0)), 0, m);
        return (m, r);
    }

    public void Grant(uint gref, ushort flags, ushort domid, Mfn frame)
    {
        Span<byte> e = _hv.Pool.Memory.GetSpan(D.Grants.SharedFrame(gref / 512).Address + ((gref % 512) * 8), 8);
        BinaryPrimitives.WriteUInt16LittleEndian(e[2..], domid);
        BinaryPrimitives.WriteUInt32LittleEndian(e[4..], (uint)frame.Value);
        BinaryPrimitives.WriteUInt16LittleEndian(e, flags);
    }

    public Span<byte> Page(Mfn m) => _hv.Pool.Frame(m);

    public FrontQueue AddQueue(bool split = false)
    {
        (Mfn tx, uint txRef) = NewPage();
        (Mfn rx, uint rxRef) = NewPage();
        int txPort = D.Events.AllocUnbound(0);
        int rxPort = split ? D.Events.AllocUnbound(0) : txPort;
        foreach (Mfn ring in new[] { tx, rx })
        {
            // SHARED_RING_INIT: indices 0, tell each side of the first request and the first response
            BinaryPrimitives.WriteUInt32LittleEndian(Page(ring)[ReqEvent..], 1);
            BinaryPrimitives.WriteUInt32LittleEndian(Page(ring)[RspEvent..], 1);
        }

        return new FrontQueue(this, tx, rx, new NetbackQueueConfig(txRef, rxRef, txPort, rxPort));
    }

    public NetbackConfig Config(params FrontQueue[] queues) => Config(new NetbackFeatures(), queues);

    public NetbackConfig Config(NetbackFeatures features, params FrontQueue[] queues) =>
        new(Id, 0, features, queues.Select(q => q.Config).ToArray());

    public void ClearPending() => D.SharedInfoPage.Slice(SharedInfoLayout.EvtchnPending, 512).Clear();

    public bool IsPending(int port) => D.Events.IsPending((uint)port);
}
