using XenSharp.Abi;
using XenSharp.Backends.Block;
using XenSharp.Backends.Net;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Events;
using XenSharp.Tests.Builder;
using XenSharp.Tests.Net;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Devices;
using XenSharp.Toolstack.Store;
using Xunit;
using static XenSharp.Tests.Devices.FakeXenbusFrontend;

namespace XenSharp.Tests.Devices;

/// <summary>
/// Devices plugged into and out of a running domain (<see cref="DomainDevices"/>) against a fake frontend that drives
/// the xenbus state machine: attach (nodes, a backend in InitWait), connect, and detach — graceful (Closing, the
/// frontend closes, then teardown), forced, and with a frontend that never closes (the limit passes, the device goes
/// anyway) — each teardown checked: nodes gone, grant unmapped, channel closed, image lock released, VIF off the VFR.
/// </summary>
public sealed class HotplugTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(10); // a limit the graceful tests never reach
    private readonly XenHypervisor _hv = TestDomains.Hypervisor();
    private readonly XenStore _store = new();
    private readonly XsClient _dom0;
    private readonly Vfr _vfr = new();
    private readonly FakeXenbusFrontend _front;
    private readonly DomainDevices _devices;
    private readonly string _image = Path.Combine(Path.GetTempPath(), $"xensharp-hotplug-{Guid.NewGuid():N}.img");

    public HotplugTests()
    {
        _dom0 = _store.Connect(0);
        XlStoreNodes.WriteDom0(_dom0);
        _front = new FakeXenbusFrontend(_hv, _store);
        var rings = new DomainRings(new XenSharp.Hypervisor.Memory.Mfn(0x1234), 1, new XenSharp.Hypervisor.Memory.Mfn(0x1235), 2);
        XlStoreNodes.Write(_dom0, _front.Id, Guid.NewGuid(), XlConfigParser.Parse("name = \"guest\"\nkernel = \"/k\"\n", "/etc/xen/guest.cfg"), rings, DateTime.UtcNow);
        _devices = new DomainDevices(_hv, _store, _dom0, _front.Id, _vfr);
        File.WriteAllBytes(_image, new byte[1 << 20]);
    }

    public void Dispose()
    {
        _devices.Dispose();
        _front.Dispose();
        _hv.Dispose();
        File.Delete(_image);
    }

    private static DiskSpec Disk(string entry) => DiskSpecParser.Parse(entry, "/x/command line", 0);

    private BlockBackend AttachXvda() => _devices.AttachDisk(Disk($"{_image},raw,xvda,rw"), "command line: disk");

    private void AssertGone(string kind, int devid)
    {
        Assert.Null(_dom0.Read(_front.Back(kind, devid)));
        Assert.Null(_dom0.Read(_front.Front(kind, devid)));
        Assert.Null(_dom0.Read($"{XlStoreNodes.DomainPath(_front.Id)}/device/{kind}")); // libxl's cleanup: the parents it left empty
        Assert.NotNull(_dom0.Read($"{XlStoreNodes.DomainPath(_front.Id)}/device")); // not one that still holds something
        Assert.False(_devices.Has(kind, devid));
    }

    [Fact]
    public void AttachWritesBothDirectoriesAndStartsABackendInInitWait()
    {
        BlockBackend disk = AttachXvda();
        Assert.Equal(N((int)XenbusState.InitWait), _front.BackendNode("vbd", 51712, "state"));
        Assert.Equal(("1", _image, "2048"), (_front.BackendNode("vbd", 51712, "online"), _front.BackendNode("vbd", 51712, "params"), _front.BackendNode("vbd", 51712, "sectors")));
        Assert.Equal(_front.Back("vbd", 51712), _dom0.Read($"{_front.Front("vbd", 51712)}/backend"));
        Assert.Same(disk, Assert.Single(_devices.Disks));
    }

    [Fact]
    public async Task GracefulDetach_AsksTheFrontendToClose_ThenTearsTheDeviceDown()
    {
        AttachXvda();
        (uint gref, int port) = _front.ConnectDisk(51712);
        Assert.True(_front.GrantInUse(gref));
        Assert.Equal(EventChannelStatusCode.Interdomain, _front.PortStatus(port));

        Task<bool> detach = _devices.DetachAsync(DomainDevices.Vbd, 51712, force: false, Long);
        _front.WaitBackend("vbd", 51712, XenbusState.Closing); // what the toolstack wrote, libxl's request
        Assert.Equal("0", _front.BackendNode("vbd", 51712, "online"));
        Assert.False(detach.IsCompleted); // waiting for the frontend
        Assert.True(_devices.Has(DomainDevices.Vbd, 51712));
        _front.SetState("vbd", 51712, XenbusState.Closed); // blkfront_closing: xenbus_frontend_closed

        Assert.True(await detach.WaitAsync(HangGuard)); // closed, not timed out
        AssertGone("vbd", 51712);
        Assert.False(_front.GrantInUse(gref));
        Assert.Equal(EventChannelStatusCode.Unbound, _front.PortStatus(port)); // domain 0's end closed
        using BlockImage again = BlockImage.Open(_image, readOnly: false); // the lock is released
        Assert.Empty(_devices.Disks);
    }

    [Fact]
    public async Task ForcedDetach_DoesNotWaitForTheFrontend()
    {
        AttachXvda();
        (uint gref, int port) = _front.ConnectDisk(51712);
        Assert.True(await _devices.DetachAsync(DomainDevices.Vbd, 51712, force: true, Long).WaitAsync(HangGuard));
        AssertGone("vbd", 51712);
        Assert.False(_front.GrantInUse(gref));
        Assert.Equal(EventChannelStatusCode.Unbound, _front.PortStatus(port));
        using BlockImage again = BlockImage.Open(_image, readOnly: false);
    }

    [Fact]
    public async Task AFrontendThatNeverCloses_IsRemovedAnywayOnceTheLimitHasPassed()
    {
        AttachXvda();
        (uint gref, _) = _front.ConnectDisk(51712);
        Assert.False(await _devices.DetachAsync(DomainDevices.Vbd, 51712, force: false, TimeSpan.Zero).WaitAsync(HangGuard)); // the limit, not the frontend
        AssertGone("vbd", 51712);
        Assert.False(_front.GrantInUse(gref));
        using BlockImage again = BlockImage.Open(_image, readOnly: false);
    }

    [Fact]
    public async Task AVifConnectsToTheVfr_AndLeavesItWhenDetached()
    {
        Assert.Equal(0, _devices.NextVifId());
        _devices.AttachVif(new VifSpec { Entry = "mac=00:16:3e:00:00:07", DeviceId = 0, Mac = [0x00, 0x16, 0x3e, 0, 0, 7] }, "command line: vif");
        Assert.Equal(1, _devices.NextVifId());
        Assert.Equal(0, _devices.VifWithMac([0x00, 0x16, 0x3e, 0, 0, 7]));
        Assert.Null(_devices.VifWithMac([0x00, 0x16, 0x3e, 0, 0, 8]));
        FrontQueue q = _front.ConnectVif(0);
        Assert.Single(_vfr.Ports);
        Assert.Equal(EventChannelStatusCode.Interdomain, _front.PortStatus(q.Config.TxPort));

        Task<bool> detach = _devices.DetachAsync(DomainDevices.Vif, 0, force: false, Long);
        _front.WaitBackend("vif", 0, XenbusState.Closing);
        _front.SetState("vif", 0, XenbusState.Closed); // netfront: xenbus_frontend_closed
        Assert.True(await detach.WaitAsync(HangGuard));
        AssertGone("vif", 0);
        Assert.Empty(_vfr.Ports);
        Assert.Equal(EventChannelStatusCode.Unbound, _front.PortStatus(q.Config.TxPort));
        Assert.Equal(0, _devices.NextVifId());
    }

    [Fact]
    public void AVdevInUse_IsRefused_AsAreNodesSomeoneElseLeft()
    {
        AttachXvda();
        var e = Assert.Throws<DeviceException>(() => _devices.AttachDisk(Disk($"{_image},raw,51712,ro"), "command line: disk 'x'"));
        Assert.Equal($"command line: disk 'x': vdev 51712 is device 51712, already used by disk '{_image},raw,xvda,rw'", e.Message);

        Assert.Equal(XsError.None, _dom0.Write($"{_front.Front("vbd", 51728)}/backend", "/elsewhere"));
        e = Assert.Throws<DeviceException>(() => _devices.AttachDisk(Disk($"{_image},raw,xvdb,ro"), "w"));
        Assert.Equal($"w: vdev xvdb is device 51728, already used by disk {_front.Front("vbd", 51728)} (the device already exists in xenstore)", e.Message);
        Assert.Single(_devices.Disks);
    }

    [Fact]
    public void AnImageThatCannotBeOpened_LeavesNothingBehind()
    {
        var e = Assert.Throws<DeviceException>(() => _devices.AttachDisk(Disk($"{_image}.missing,raw,xvdb"), "command line: disk 'y'"));
        Assert.StartsWith($"command line: disk 'y': cannot open {_image}.missing for writing: ", e.Message);
        Assert.Null(_dom0.Read(_front.Back("vbd", 51728)));
        Assert.Empty(_devices.Disks);
    }

    [Fact]
    public async Task UnknownDevicesAndASecondDetachAreRefused()
    {
        await Assert.ThrowsAsync<DeviceException>(() => _devices.DetachAsync(DomainDevices.Vbd, 51712, force: false, Long));
        AttachXvda();
        Task<bool> first = _devices.DetachAsync(DomainDevices.Vbd, 51712, force: false, Long);
        var e = await Assert.ThrowsAsync<DeviceException>(() => _devices.DetachAsync(DomainDevices.Vbd, 51712, force: true, Long));
        Assert.Equal($"vbd 51712 of domain {_front.Id} is already being detached", e.Message);
        _front.SetState("vbd", 51712, XenbusState.Closed);
        Assert.True(await first.WaitAsync(HangGuard));
    }

    [Fact]
    public async Task TheDomainEndingDuringADetach_TearsTheDeviceDownOnce()
    {
        AttachXvda();
        Task<bool> detach = _devices.DetachAsync(DomainDevices.Vbd, 51712, force: false, Long);
        _front.WaitBackend("vbd", 51712, XenbusState.Closing);
        _devices.Dispose(); // what DomainHost does when the domain goes
        Assert.True(await detach.WaitAsync(HangGuard));
        AssertGone("vbd", 51712);
        using BlockImage again = BlockImage.Open(_image, readOnly: false);
    }

    [Fact]
    public void Statistics_CountTheDevicesAndSumTheirCounters()
    {
        AttachXvda();
        _devices.AttachVif(new VifSpec { Entry = "", DeviceId = 0 }, "v");
        DeviceStatistics s = _devices.Statistics();
        Assert.Equal((1, 0L, 0L, 1, 0L, 0L), (s.Nets, s.NetTxBytes, s.NetRxBytes, s.Vbds, s.VbdReads, s.VbdWriteSectors));
    }
}
