using System.Buffers.Binary;
using System.Globalization;
using XenSharp.Abi;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Events;
using XenSharp.Tests.Net;
using XenSharp.Toolstack.Store;
using Xunit;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Tests.Devices;

/// <summary>
/// The guest's side of xenbus for hot-plug tests: a domain of a hypervisor without KVM (a <see cref="FakeNetfront"/>'s:
/// its grants and ports) that writes, through a store connection of its own, what Linux's blkfront and netfront write
/// to connect — ring grants, event channels, then Initialised or Connected — and Closed when the test says so. The
/// backends run on their own loops; waits for them are hang guards, not timed assertions.
/// </summary>
internal sealed class FakeXenbusFrontend : IDisposable
{
    public static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(2);

    private readonly XenHypervisor _hv;
    private readonly XsClient _guest;

    public FakeXenbusFrontend(XenHypervisor hv, XenStore store)
    {
        _hv = hv;
        Net = new FakeNetfront(hv, "guest");
        _guest = store.Connect(Net.Id);
    }

    public FakeNetfront Net { get; }

    public ushort Id => Net.Id;

    public static string N(long n) => n.ToString(CultureInfo.InvariantCulture);

    public string Front(string kind, int devid) => $"{XlStoreNodes.DomainPath(Id)}/device/{kind}/{devid}";

    public string Back(string kind, int devid) => $"/local/domain/0/backend/{kind}/{Id}/{devid}";

    public string? BackendNode(string kind, int devid, string node) => _guest.Read($"{Back(kind, devid)}/{node}");

    /// <summary>What blkfront's talk_to_blkback writes (one ring page, one channel), then Initialised; waits for the backend to connect.</summary>
    public (uint Ref, int Port) ConnectDisk(int devid)
    {
        (_, uint gref) = Net.NewPage();
        int port = Net.D.Events.AllocUnbound(0);
        string fe = Front("vbd", devid);
        Assert.Equal(XsError.None, _guest.Write($"{fe}/ring-ref", N(gref)));
        Assert.Equal(XsError.None, _guest.Write($"{fe}/event-channel", N(port)));
        Assert.Equal(XsError.None, _guest.Write($"{fe}/protocol", BlkifLayout.Protocol));
        SetState("vbd", devid, XenbusState.Initialised);
        WaitBackend("vbd", devid, XenbusState.Connected);
        return (gref, port);
    }

    /// <summary>What netfront's talk_to_netback writes (one queue), then Connected; waits for the backend to connect.</summary>
    public FrontQueue ConnectVif(int devid)
    {
        FrontQueue q = Net.AddQueue();
        string fe = Front("vif", devid);
        _guest.Write($"{fe}/tx-ring-ref", N(q.Config.TxRingRef));
        _guest.Write($"{fe}/rx-ring-ref", N(q.Config.RxRingRef));
        _guest.Write($"{fe}/event-channel", N(q.Config.TxPort));
        _guest.Write($"{fe}/request-rx-copy", "1");
        SetState("vif", devid, XenbusState.Connected);
        WaitBackend("vif", devid, XenbusState.Connected);
        return q;
    }

    public void SetState(string kind, int devid, XenbusState state) =>
        Assert.Equal(XsError.None, _guest.Write($"{Front(kind, devid)}/state", N((int)state)));

    public void WaitBackend(string kind, int devid, XenbusState state) =>
        Assert.True(SpinWait.SpinUntil(() => BackendNode(kind, devid, "state") == N((int)state), HangGuard), $"backend {kind} {devid} never reached {state}");

    /// <summary>Whether domain 0 holds a mapping of the grant (Xen sets GTF_reading/GTF_writing in the entry while it does).</summary>
    public bool GrantInUse(uint gref)
    {
        Span<byte> e = _hv.Pool.Memory.GetSpan(Net.D.Grants.SharedFrame(gref / 512).Address + ((gref % 512) * 8), 2);
        return (BinaryPrimitives.ReadUInt16LittleEndian(e) & (GtfReading | GtfWriting)) != 0;
    }

    public EventChannelStatusCode PortStatus(int port)
    {
        Assert.Equal(0, Net.D.Events.Status((uint)port, out EventChannelStatus s));
        return s.Status;
    }

    public void Dispose() => _guest.Dispose();
}
