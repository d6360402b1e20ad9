using System.Globalization;
using System.Text.RegularExpressions;
using XenSharp.Abi;
using XenSharp.Backends.Net;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Tests.Builder;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Devices;
using XenSharp.Toolstack.Store;
using Xunit;

namespace XenSharp.Tests.Net;

/// <summary>The toolstack's side of a domain's VIFs: libxl's nodes with libxl's permissions, a MAC as xl makes one, a netback waiting in InitWait.</summary>
public sealed class VifSetupTests : IDisposable
{
    private readonly XenHypervisor _hv = TestDomains.Hypervisor();
    private readonly Domain _guest;
    private readonly XenStore _store = new();
    private readonly XsClient _dom0;

    public VifSetupTests()
    {
        _guest = _hv.CreateDomain("guest", 1, 512, new CapturingConsole());
        _dom0 = _store.Connect(0);
    }

    public void Dispose() => _hv.Dispose();

    private static DomainConfig Config(params string[] vifs) => XlConfigParser.Parse(
        $"name = \"guest\"\nkernel = \"/k\"\nvif = [ {string.Join(", ", vifs.Select(v => $"'{v}'"))} ]\n", "/etc/xen/guest.cfg");

    private string Back(int dev) => XlStoreNodes.VifBackendPath(_guest.Id, dev);

    [Fact]
    public void EachVifGetsLibxlsNodesAndABackendInInitWait()
    {
        DomainConfig config = Config("mac=00:16:3e:00:00:01,bridge=br1", "");
        Assert.Empty(config.Warnings);
        using DomainDevices devices = DeviceSetup.Attach(_hv, _store, _dom0, _guest.Id, config, new Vfr());
        Assert.Equal(2, devices.Vifs.Count);
        string id = _guest.Id.ToString(CultureInfo.InvariantCulture);
        Assert.Equal(XlStoreNodes.VifFrontendPath(_guest.Id, 0), _dom0.Read($"{Back(0)}/frontend"));
        Assert.Equal((id, "1", "0", "vif", "br1", "00:16:3e:00:00:01", "1500"),
            (_dom0.Read($"{Back(0)}/frontend-id"), _dom0.Read($"{Back(0)}/online"), _dom0.Read($"{Back(0)}/handle"), _dom0.Read($"{Back(0)}/type"),
             _dom0.Read($"{Back(0)}/bridge"), _dom0.Read($"{Back(0)}/mac"), _dom0.Read($"{Back(0)}/mtu")));
        Assert.Equal(((int)XenbusState.InitWait).ToString(CultureInfo.InvariantCulture), _dom0.Read($"{Back(0)}/state"));
        Assert.Equal(("1", "xenbr0"), (_dom0.Read($"{Back(1)}/handle"), _dom0.Read($"{Back(1)}/bridge")));
        Assert.Null(_dom0.Read($"{Back(0)}/script"));

        using XsClient g = _store.Connect(_guest.Id);
        Assert.Equal(Back(0), g.Read("device/vif/0/backend"));
        Assert.Equal(("0", "1", "0", "00:16:3e:00:00:01"), (g.Read("device/vif/0/backend-id"), g.Read("device/vif/0/state"), g.Read("device/vif/0/handle"), g.Read("device/vif/0/mac")));
        string generated = g.Read("device/vif/1/mac")!;
        Assert.Matches(new Regex("^00:16:3e:[0-7][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$"), generated);
        Assert.Equal(generated, g.Read($"{Back(1)}/mac"));
        Assert.Equal(["n" + id, "r0"], g.GetPermissions("device/vif/0")!);
        Assert.Equal(["n0", "r" + id], g.GetPermissions(Back(0))!);
        Assert.Equal(XsError.None, g.Write("device/vif/0/tx-ring-ref", "8")); // the frontend's own nodes
        Assert.Equal("1", g.Read($"{Back(0)}/feature-rx-copy")); // the backend's features, readable
        Assert.Equal(XsError.EACCES, g.Write($"{Back(0)}/mac", "00:16:3e:66:66:66"));
    }

    [Fact]
    public void RemoveTakesTheVifNodesAway()
    {
        var rings = new DomainRings(new XenSharp.Hypervisor.Memory.Mfn(0x1234), 1, new XenSharp.Hypervisor.Memory.Mfn(0x1235), 2);
        DomainConfig config = Config("");
        XlStoreNodes.Write(_dom0, _guest.Id, Guid.NewGuid(), config, rings, DateTime.UtcNow);
        using (DeviceSetup.Attach(_hv, _store, _dom0, _guest.Id, config, new Vfr()))
        {
        }

        XlStoreNodes.Remove(_dom0, _guest.Id);
        Assert.Null(_dom0.Read($"/local/domain/0/backend/vif/{_guest.Id}"));
        Assert.Null(_dom0.Read(XlStoreNodes.VifFrontendPath(_guest.Id, 0)));
    }

    [Fact]
    public void GeneratedMacsAreInXensRange()
    {
        byte[] a = VifMac.Generate();
        Assert.Equal([0x00, 0x16, 0x3e], a[..3]);
        Assert.True(a[3] < 0x80);
        Assert.Equal("00:16:3e:0a:ff:01", VifMac.Format([0x00, 0x16, 0x3e, 0x0a, 0xff, 0x01]));
    }
}
