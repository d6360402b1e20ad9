using System.Globalization;
using XenSharp.Abi;
using XenSharp.Backends.Net;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Tests.Builder;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Store;
using Xunit;
using static XenSharp.Tests.Net.TestFrames;

namespace XenSharp.Tests.Net;

/// <summary>
/// A VIF's xenbus side against a hand-written netfront that writes the nodes Linux's xen-netfront writes: the features
/// offered at InitWait, the rings and ports read on Connected, a Netback on the host's VFR, and gone again on Closed.
/// </summary>
public sealed class VifBackendTests : IDisposable
{
    private readonly XenHypervisor _hv = TestDomains.Hypervisor();
    private readonly XenStore _store = new();
    private readonly XsClient _dom0;
    private readonly Vfr _vfr = new();
    private readonly List<VifBackend> _vifs = new();

    public VifBackendTests()
    {
        _dom0 = _store.Connect(0);
    }

    public void Dispose()
    {
        foreach (VifBackend v in _vifs)
        {
            v.Dispose();
        }

        _hv.Dispose();
    }

    private static string N(long n) => n.ToString(CultureInfo.InvariantCulture);

    private VifBackend Attach(FakeNetfront front, int devid = 0, IReadOnlyList<VfrRule>? rules = null)
    {
        var spec = new VifSpec { Entry = "", DeviceId = devid };
        Assert.Equal(XsError.None, XlStoreNodes.WriteVif(_dom0, front.Id, spec, [0x00, 0x16, 0x3e, 0, 0, (byte)front.Id]));
        VifBackend vif = VifBackend.Attach(_hv, _store, XlStoreNodes.VifBackendPath(front.Id, devid), _vfr, TimeSpan.FromMilliseconds(10), ownThread: false, rules);
        _vifs.Add(vif);
        return vif;
    }

    /// <summary>What xen-netfront's talk_to_netback writes, then Connected.</summary>
    private void Connect(FakeNetfront front, IReadOnlyList<FrontQueue> queues, int devid = 0)
    {
        using XsClient g = _store.Connect(front.Id);
        string fe = $"device/vif/{devid}";
        if (queues.Count > 1)
        {
            Assert.Equal(XsError.None, g.Write($"{fe}/multi-queue-num-queues", N(queues.Count)));
        }

        for (int i = 0; i < queues.Count; i++)
        {
            string dir = queues.Count == 1 ? fe : $"{fe}/queue-{i}";
            NetbackQueueConfig c = queues[i].Config;
            g.Write($"{dir}/tx-ring-ref", N(c.TxRingRef));
            g.Write($"{dir}/rx-ring-ref", N(c.RxRingRef));
            if (c.SplitEvents)
            {
                g.Write($"{dir}/event-channel-tx", N(c.TxPort));
                g.Write($"{dir}/event-channel-rx", N(c.RxPort));
            }
            else
            {
                g.Write($"{dir}/event-channel", N(c.TxPort));
            }
        }

        foreach (string f in new[] { "request-rx-copy", "feature-rx-notify", "feature-sg", "feature-gso-tcpv4", "feature-gso-tcpv6", "feature-ipv6-csum-offload" })
        {
            g.Write($"{fe}/{f}", "1");
        }

        Assert.Equal(XsError.None, g.Write($"{fe}/state", N((int)XenbusState.Connected)));
    }

    [Fact]
    public void TheBackendOffersNetbacksFeaturesAndWaits()
    {
        var front = new FakeNetfront(_hv, "guest");
        VifBackend vif = Attach(front);
        string be = XlStoreNodes.VifBackendPath(front.Id, 0);
        Assert.Equal(XenbusState.InitWait, vif.Xenbus.State);
        Assert.Equal(N((int)XenbusState.InitWait), _dom0.Read($"{be}/state"));
        foreach (string f in new[] { "feature-sg", "feature-gso-tcpv4", "feature-gso-tcpv6", "feature-ipv6-csum-offload", "feature-rx-copy", "feature-split-event-channels" })
        {
            Assert.Equal("1", _dom0.Read($"{be}/{f}"));
        }

        Assert.Equal("0", _dom0.Read($"{be}/feature-rx-flip"));
        Assert.Equal(N(NetbackConfig.MaxQueues), _dom0.Read($"{be}/multi-queue-max-queues"));
        Assert.Null(vif.Netback);
    }

    [Fact]
    public void ConnectedFrontendGetsANetbackOnTheVfrAndClosedTakesItAway()
    {
        var front = new FakeNetfront(_hv, "guest");
        FrontQueue q0 = front.AddQueue(split: true);
        FrontQueue q1 = front.AddQueue();
        VifBackend vif = Attach(front, devid: 1);
        Connect(front, [q0, q1], devid: 1);
        vif.Service();

        Assert.Equal(XenbusState.Connected, vif.Xenbus.State);
        Netback netback = Assert.IsType<Netback>(vif.Netback);
        Assert.Equal(2, netback.QueueCount);
        Assert.Equal($"vif{front.Id}.1", netback.Config.Name);
        Assert.Equal(NetbackFeatures.LinuxNetfront, netback.Config.Features);
        Assert.Equal([q0.Config, q1.Config], netback.Config.Queues);
        Assert.Contains(netback.Port, _vfr.Ports);

        using XsClient g = _store.Connect(front.Id);
        g.Write("device/vif/1/state", N((int)XenbusState.Closed));
        vif.Service();
        Assert.Equal(XenbusState.Closed, vif.Xenbus.State);
        Assert.Null(vif.Netback);
        Assert.Empty(_vfr.Ports);
    }

    [Fact]
    public void TheVifsRulesAreOnItsPortWhenItConnects()
    {
        var front = new FakeNetfront(_hv, "guest");
        FrontQueue q = front.AddQueue();
        VfrRule[] rules = [new(VfrAction.Deny, VfrDirection.FromVif, VfrProtocol.Tcp, DestinationPorts: new VfrPortRange(5002)), new(VfrAction.Allow)];
        VifBackend vif = Attach(front, rules: rules);
        Connect(front, [q]);
        vif.Service();

        Netback netback = Assert.IsType<Netback>(vif.Netback);
        Assert.Equal(rules, netback.Port.Rules);
    }

    [Fact]
    public void AFrontendWithoutRxCopyIsRefused()
    {
        var front = new FakeNetfront(_hv, "guest");
        FrontQueue q = front.AddQueue();
        VifBackend vif = Attach(front);
        Connect(front, [q]);
        using XsClient g = _store.Connect(front.Id);
        g.Write("device/vif/0/request-rx-copy", "0");
        g.Write("device/vif/0/state", N((int)XenbusState.Initialised)); // one pass reads the nodes as they are by then
        vif.Service();
        Assert.Equal(XenbusState.Closing, vif.Xenbus.State);
        Assert.Contains("request-rx-copy", _dom0.Read($"/local/domain/0/error/backend/vif/{front.Id}/0/error"));
        Assert.Null(vif.Netback);
    }

    [Fact]
    public void TwoDomainsVifsOnOneVfrPassAFrame()
    {
        var a = new FakeNetfront(_hv, "a");
        var b = new FakeNetfront(_hv, "b");
        FrontQueue qa = a.AddQueue();
        FrontQueue qb = b.AddQueue();
        VifBackend va = Attach(a);
        VifBackend vb = Attach(b);
        Connect(a, [qa]);
        Connect(b, [qb]);
        va.Service();
        vb.Service();
        Netback na = va.Netback!;
        Netback nb = vb.Netback!;

        qb.PostRx(4);
        nb.RunPending();
        byte[] frame = Udp(Mac(1), Broadcast, "10.0.0.1", "10.0.0.2", 1000, 2000);
        qa.Send(frame);
        na.RunPending();
        nb.RunPending();
        Assert.Equal([frame], qb.RxPackets());
    }
}
