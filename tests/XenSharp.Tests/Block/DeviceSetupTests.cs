using XenSharp.Abi;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Tests.Builder;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Devices;
using XenSharp.Toolstack.Store;
using Xunit;

namespace XenSharp.Tests.Block;

/// <summary>The toolstack's side of a domain's disks: libxl's nodes with libxl's permissions, a blkback per disk waiting in InitWait, errors naming the entry.</summary>
public sealed class DeviceSetupTests : IDisposable
{
    private readonly XenHypervisor _hv = TestDomains.Hypervisor();
    private readonly Domain _guest;
    private readonly XenStore _store = new();
    private readonly XsClient _dom0;
    private readonly string _image = Path.Combine(Path.GetTempPath(), $"xensharp-setup-{Guid.NewGuid():N}.img");
    private readonly string _second = Path.Combine(Path.GetTempPath(), $"xensharp-setup-{Guid.NewGuid():N}.img");

    public DeviceSetupTests()
    {
        _guest = _hv.CreateDomain("guest", 1, 512, new CapturingConsole());
        _dom0 = _store.Connect(0);
        File.WriteAllBytes(_image, new byte[1 << 20]);
        File.WriteAllBytes(_second, new byte[4096]);
    }

    public void Dispose()
    {
        _hv.Dispose();
        File.Delete(_image);
        File.Delete(_second);
    }

    private DomainConfig Config(params string[] disks) => XlConfigParser.Parse(
        $"name = \"guest\"\nkernel = \"/k\"\ndisk = [ {string.Join(", ", disks.Select(d => $"'{d}'"))} ]\n", "/etc/xen/guest.cfg");

    private string Back(int dev) => XlStoreNodes.DiskBackendPath(_guest.Id, dev);

    private string Front(int dev) => XlStoreNodes.DiskFrontendPath(_guest.Id, dev);

    [Fact]
    public void EachDiskGetsLibxlsNodesAndABackendInInitWait()
    {
        using DomainDevices devices = DeviceSetup.Attach(_hv, _store, _dom0, _guest.Id, Config($"{_image},raw,xvda,rw", $"{_second},raw,xvdb,ro"));
        Assert.Equal(2, devices.Disks.Count);
        string id = _guest.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(Front(51712), _dom0.Read($"{Back(51712)}/frontend"));
        Assert.Equal(id, _dom0.Read($"{Back(51712)}/frontend-id"));
        Assert.Equal(("1", "w", "r", "phy", "disk", "xvda"), (_dom0.Read($"{Back(51712)}/online"), _dom0.Read($"{Back(51712)}/mode"), _dom0.Read($"{Back(51728)}/mode"), _dom0.Read($"{Back(51712)}/type"), _dom0.Read($"{Back(51712)}/device-type"), _dom0.Read($"{Back(51712)}/dev")));
        Assert.Equal(_image, _dom0.Read($"{Back(51712)}/params"));
        Assert.Equal(((int)XenbusState.InitWait).ToString(System.Globalization.CultureInfo.InvariantCulture), _dom0.Read($"{Back(51712)}/state"));
        Assert.Equal("2048", _dom0.Read($"{Back(51712)}/sectors"));
        Assert.Equal("4", _dom0.Read($"{Back(51728)}/info"));

        using XsClient g = _store.Connect(_guest.Id);
        Assert.Equal(Back(51712), g.Read("device/vbd/51712/backend"));
        Assert.Equal(("0", "1", "51712", "disk", "1"), (g.Read("device/vbd/51712/backend-id"), g.Read("device/vbd/51712/state"), g.Read("device/vbd/51712/virtual-device"), g.Read("device/vbd/51712/device-type"), g.Read("device/vbd/51712/trusted")));
        Assert.Equal(["n" + id, "r0"], g.GetPermissions("device/vbd/51712")!);
        Assert.Equal(["n0", "r" + id], g.GetPermissions(Back(51712))!);
        Assert.Equal(XsError.None, g.Write("device/vbd/51712/ring-ref", "8")); // the frontend's own nodes
        Assert.Equal("2048", g.Read($"{Back(51712)}/sectors")); // the backend's features, readable
        Assert.Equal(XsError.EACCES, g.Write($"{Back(51712)}/sectors", "1"));
        Assert.Equal(XsError.EACCES, g.Write($"{Back(51712)}/params", "/etc/shadow"));
    }

    [Fact]
    public void RemoveTakesTheDiskNodesAway()
    {
        var rings = new DomainRings(new XenSharp.Hypervisor.Memory.Mfn(0x1234), 1, new XenSharp.Hypervisor.Memory.Mfn(0x1235), 2);
        DomainConfig config = Config($"{_image},raw,xvda");
        XlStoreNodes.Write(_dom0, _guest.Id, Guid.NewGuid(), config, rings, DateTime.UtcNow);
        using (DeviceSetup.Attach(_hv, _store, _dom0, _guest.Id, config))
        {
        }

        XlStoreNodes.Remove(_dom0, _guest.Id);
        Assert.Null(_dom0.Read($"/local/domain/0/backend/vbd/{_guest.Id}"));
        Assert.Null(_dom0.Read(Front(51712)));
    }

    [Fact]
    public void AnImageThatCannotBeOpenedFailsTheBuildNamingTheEntry()
    {
        string missing = _image + ".missing";
        var e = Assert.Throws<DomainBuildException>(() => DeviceSetup.Attach(_hv, _store, _dom0, _guest.Id, Config($"{_image},raw,xvda", $"{missing},raw,xvdb")));
        Assert.StartsWith($"/etc/xen/guest.cfg:3: disk '{missing},raw,xvdb': cannot open {missing} for writing: ", e.Message);
        // The first disk was attached and is undone: its image can be opened for writing again.
        using var again = XenSharp.Backends.Block.BlockImage.Open(_image, readOnly: false);
    }

    [Fact]
    public void AnEmptyImageIsRefused()
    {
        File.WriteAllBytes(_image, new byte[100]);
        var e = Assert.Throws<DomainBuildException>(() => DeviceSetup.Attach(_hv, _store, _dom0, _guest.Id, Config($"{_image},raw,xvda")));
        Assert.EndsWith("is empty (a disk needs at least one 512-byte sector)", e.Message);
    }

    [Fact]
    public void AWritableImageServesOneDomainOnlyAReadOnlyOneSeveral()
    {
        Domain other = _hv.CreateDomain("other", 1, 512, new CapturingConsole());
        using DomainDevices first = DeviceSetup.Attach(_hv, _store, _dom0, _guest.Id, Config($"{_image},raw,xvda", $"{_second},raw,xvdb,ro"));
        Assert.Throws<DomainBuildException>(() => DeviceSetup.Attach(_hv, _store, _dom0, other.Id, Config($"{_image},raw,xvda,ro")));
        using DomainDevices second = DeviceSetup.Attach(_hv, _store, _dom0, other.Id, Config($"{_second},raw,xvda,ro"));
        Assert.Single(second.Disks);
    }
}
