using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Events;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Tests.Builder;
using XenSharp.Toolstack.Builder;
using Xunit;

namespace XenSharp.Tests.Xenstore;

/// <summary>The store behind a built domain in heap memory: the test plays the guest on the real store page and port.</summary>
public sealed class XenstoreBackendTests : IDisposable
{
    private const ulong Scratch = 0x200000;
    private readonly XenHypervisor _hv;
    private readonly Domain _d;
    private readonly DomainRings _rings;
    private readonly XenStore _store;
    private readonly XenstoreBackend _backend;
    private readonly GuestRing _guest;

    public XenstoreBackendTests()
    {
        _hv = TestDomains.Hypervisor();
        _d = _hv.Control.Get(PvDomainBuilder.Build(_hv, new BuildRequest("x", TestDomains.GenericKernel(), 16, 1, ""), new CapturingConsole(), out _rings));
        _store = new XenStore(_hv.Log);
        using (XsClient dom0 = _store.Connect(0))
        {
            dom0.Mkdir($"/local/domain/{_d.Id}");
            dom0.SetPermissions($"/local/domain/{_d.Id}", XsPermission.None(0), XsPermission.Read(_d.Id));
            dom0.Write($"/local/domain/{_d.Id}/name", "x");
        }

        _backend = XenstoreBackend.Attach(_store, _d.Hypervisor, _d.Id, _rings.StoreMfn, _rings.StorePort, ownThread: false);
        _guest = new GuestRing(() => _hv.Pool.Frame(_rings.StoreMfn));
    }

    public void Dispose()
    {
        _backend.Dispose();
        _hv.Dispose();
    }

    [Fact]
    public void AttachBindsTheStorePortAndIntroducesTheDomain()
    {
        Assert.Equal(1, _rings.StorePort);
        Assert.Equal(1, _backend.Port);
        Assert.Equal(0, _d.Events.Status((uint)_rings.StorePort, out EventChannelStatus s));
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Interdomain, 0, 0, (uint)_rings.StorePort), s);
        Assert.True(_store.IsIntroduced(_d.Id));
        Assert.Equal(XenStore.SupportedFeatures, BinaryPrimitives.ReadUInt32LittleEndian(Page()[XenstoreLayout.ServerFeatures..]));
        Assert.Throws<InvalidOperationException>(() => XenstoreBackend.Attach(_store, _d.Hypervisor, _d.Id, _rings.StoreMfn, _rings.ConsolePort));
    }

    [Fact]
    public void SendOnTheStorePortOnlyPostsAndTheBackendsLoopAnswers()
    {
        Produce(GuestRing.Message(XsMessageType.Read, 5, 0, "name\0"));
        ClearPending();
        Assert.Equal(0, GuestSend());
        Assert.Empty(Messages()); // nothing ran on the sending vCPU's thread
        Assert.True(_backend.Loop.RunPending());
        (XsMessageType type, uint reqId, _, string payload) = Assert.Single(Messages());
        Assert.Equal((XsMessageType.Read, 5u, "x"), (type, reqId, payload));
        Assert.True(_d.Events.IsPending((uint)_rings.StorePort)); // the store notified back
    }

    [Fact]
    public void DisposeReleasesTheDomainAndUnbindsThePort()
    {
        using XsClient dom0 = _store.Connect(0);
        dom0.Watch("@releaseDomain", "r");
        dom0.TakeEvents();
        _backend.Dispose();
        Assert.False(_store.IsIntroduced(_d.Id));
        Assert.Equal([("@releaseDomain", "r")], dom0.TakeEvents());
        Assert.Equal(0, _d.Events.Status((uint)_rings.StorePort, out EventChannelStatus s));
        Assert.Equal(EventChannelStatusCode.Unbound, s.Status);
        Assert.Equal(0, GuestSend()); // dropped, as on any unbound port
    }

    [Fact]
    public void AStorePageTheDomainGaveUpIsNotTouched()
    {
        Produce(GuestRing.Message(XsMessageType.Read, 5, 0, "name\0"));
        _hv.Destroy(_d); // frees the page: the store must not write it any more
        _backend.Notify();
        Assert.True(_backend.Loop.RunPending());
        Assert.True(_store.IsIntroduced(_d.Id));
        Assert.Equal(0, _hv.Pool.Frame(_rings.StoreMfn)[XenstoreLayout.RspProd]);
    }

    private void Produce(byte[] message) => _guest.Produce(message);

    private List<(XsMessageType Type, uint ReqId, uint TxId, string Payload)> Messages() => _guest.Messages();

    private Span<byte> Page() => _hv.Pool.Frame(_rings.StoreMfn);

    private long GuestSend()
    {
        Vcpu v = _d.Vcpus[0];
        Assert.True(v.CopyToGuest(Scratch, BitConverter.GetBytes((uint)_rings.StorePort)));
        return (long)HypercallDispatcher.Dispatch(v, HypercallNumber.EventChannelOp, EventChannelOp.Send, Scratch, 0, 0, 0);
    }

    private void ClearPending() => _d.SharedInfoPage.Slice(SharedInfoLayout.EvtchnPending, 512).Clear();
}
