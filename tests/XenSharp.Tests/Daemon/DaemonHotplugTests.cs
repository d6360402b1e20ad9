using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using XenSharp.Abi;
using XenSharp.Backends.Net;
using XenSharp.Backends.Xenstore;
using XenSharp.IntegrationTests.Support;
using XenSharp.Tests.Net;
using XenSharp.Toolstack.Daemon;
using Xunit;

namespace XenSharp.Tests.Daemon;

/// <summary>
/// block-attach, block-detach, network-attach and network-detach over the daemon's socket, without KVM (domains created
/// paused, whose frontends never move unless the test writes their state as the guest): the devices appear in
/// block-list and network-list and in the domain's config, xl's one-line refusals, top's figures, and a detach that
/// waits for the guest's frontend. Here the detach limit is 0 (a paused domain's frontend never closes: removed at
/// once, and the log says so); the graceful test has one that is never reached. A vif's `bridge=` opens the host's uplink
/// as a build does (the TAP test in a network namespace of its own): refused in one line with nothing attached when it
/// cannot be had; kept when the vif goes, closed when the daemon ends.
/// </summary>
public sealed class DaemonHotplugTests : IDisposable
{
    private readonly DaemonFixture _daemon = new(new DaemonSettings { DetachTimeout = TimeSpan.Zero });
    private readonly string _dir = Directory.CreateTempSubdirectory("xshp").FullName;

    public DaemonHotplugTests()
    {
        File.WriteAllBytes(Path.Combine(_dir, "a.img"), new byte[1 << 20]);
        File.WriteAllBytes(Path.Combine(_dir, "b.img"), new byte[1 << 20]);
    }

    public void Dispose()
    {
        _daemon.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static JsonObject Ask(DaemonFixture daemon, string verb, string domain, Action<JsonObject>? more = null)
    {
        var request = new JsonObject { ["verb"] = verb, ["domain"] = domain };
        more?.Invoke(request);
        return daemon.Request(request);
    }

    private JsonObject Ask(string verb, string domain, Action<JsonObject>? more = null) => Ask(_daemon, verb, domain, more);

    private string Refusal(string verb, string domain, Action<JsonObject>? more = null) =>
        Assert.Throws<DaemonException>(() => Ask(verb, domain, more)).Message;

    private Action<JsonObject> Specs(params string[] specs) => r =>
    {
        r["specs"] = new JsonArray([.. specs.Select(s => (JsonNode)s)]);
        r["cwd"] = _dir;
    };

    private static Action<JsonObject> Device(string device, bool force = false) => r =>
    {
        r["device"] = device;
        r["force"] = force;
    };

    private JsonArray Devices(string verb, string domain) =>
        (JsonArray)_daemon.Request(new JsonObject { ["verb"] = verb, ["domains"] = new JsonArray(domain) })["devices"]!;

    [Fact]
    public void BlockAttach_AddsADisk_AndBlockDetachRemovesIt()
    {
        int id = _daemon.CreatePaused("d");
        Assert.Equal(51728, Ask("block-attach", "d", Specs("a.img", "raw", "xvdb", "rw"))["devid"]!.GetValue<int>()); // relative: the client's directory

        JsonObject disk = Assert.IsType<JsonObject>(Assert.Single(Devices("block-list", "d")));
        Assert.Equal((51728, 1L, $"/local/domain/0/backend/vbd/{id}/51728"), (disk["devid"]!.GetValue<int>(), disk["state"]!.GetValue<long>(), disk["backend"]!.GetValue<string>()));
        using XsClient dom0 = _daemon.Toolstack.Store.Connect(0);
        Assert.Equal(Path.Combine(_dir, "a.img"), dom0.Read($"/local/domain/0/backend/vbd/{id}/51728/params"));
        Assert.Equal(((int)XenbusState.InitWait).ToString(System.Globalization.CultureInfo.InvariantCulture), dom0.Read($"/local/domain/0/backend/vbd/{id}/51728/state"));
        Assert.Equal("xvdb", Assert.Single(_daemon.Toolstack.Find("d")!.Config.Disks).Vdev); // a restart builds it too

        Ask("block-detach", "d", Device("xvdb", force: true));
        Assert.Empty(Devices("block-list", "d"));
        Assert.Null(dom0.Read($"/local/domain/0/backend/vbd/{id}/51728"));
        Assert.Empty(_daemon.Toolstack.Find("d")!.Config.Disks);
        Assert.Equal("Error: Device xvdb not connected.", Refusal("block-detach", "d", Device("xvdb")));
        Assert.Equal("Error: Device xvdq9z not connected.", Refusal("block-detach", "d", Device("xvdq9z")));

        Ask("block-attach", "d", Specs("a.img,raw,xvdb,rw")); // its image's lock was released: it attaches again
        Ask("block-detach", "d", Device("51728")); // by number; the frontend never closes, the limit is 0
        Assert.Contains(_daemon.Ring.Lines(), l => l.Contains("d: vbd 51728: the frontend did not close within 0 s; removed anyway", StringComparison.Ordinal));
        Assert.Empty(Devices("block-list", "d"));
    }

    [Fact]
    public void BadSpecs_AVdevInUse_AndAnUnknownDomain_AreOneLine()
    {
        _daemon.CreatePaused("d", $"disk = [ '{Path.Combine(_dir, "b.img")},raw,xvda,rw' ]\n");
        Assert.Equal("command line: disk 'a.img,qcow2,xvdc': format qcow2 is not supported yet (only raw)", Refusal("block-attach", "d", Specs("a.img", "qcow2", "xvdc")));
        Assert.Equal("command line: disk 'a.img,raw': no vdev specified", Refusal("block-attach", "d", Specs("a.img,raw")));
        Assert.Equal($"command line: disk 'a.img,raw,xvda': vdev xvda is device 51712, already used by disk '{Path.Combine(_dir, "b.img")},raw,xvda,rw'",
            Refusal("block-attach", "d", Specs("a.img,raw,xvda")));
        Assert.StartsWith($"command line: disk 'missing.img,raw,xvdc': cannot open {Path.Combine(_dir, "missing.img")} for writing: ", Refusal("block-attach", "d", Specs("missing.img,raw,xvdc")));
        Assert.Equal("command line: vif 'foo=bar': unrecognized argument 'foo=bar'", Refusal("network-attach", "d", Specs("foo=bar")));
        Assert.Equal("nosuch is an invalid domain identifier (rc=-6)", Refusal("block-attach", "nosuch", Specs("a.img,raw,xvdc")));
        Assert.Equal("nosuch is an invalid domain identifier (rc=-6)", Refusal("network-detach", "nosuch", Device("0")));
        Assert.Single(Devices("block-list", "d"));
    }

    [Fact]
    public void NetworkAttach_NumbersInterfacesAsLibxl_AndNetworkDetachTakesADevidOrAMac()
    {
        _daemon.CreatePaused("n");
        JsonObject first = Ask("network-attach", "n", Specs("mac=00:16:3e:00:00:09", "mtu=1400"));
        Assert.Equal((0, "00:16:3e:00:00:09"), (first["devid"]!.GetValue<int>(), first["mac"]!.GetValue<string>()));
        JsonObject second = Ask("network-attach", "n");
        Assert.Equal(1, second["devid"]!.GetValue<int>());
        Assert.Matches(new Regex("^00:16:3e:[0-7][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$"), second["mac"]!.GetValue<string>());
        Assert.Equal("command line: vif 'devid=1': devid 1 is already used by vif ''", Refusal("network-attach", "n", Specs("devid=1")));
        Assert.Equal(2, Devices("network-list", "n").Count);
        Assert.Equal(second["mac"]!.GetValue<string>(), VifMacText(_daemon.Toolstack.Find("n")!.Config.Vifs[1].Mac!)); // kept for a restart

        Ask("network-detach", "n", Device("00:16:3E:00:00:09"));
        Assert.Equal("Unknown device 00:16:3e:00:00:09.", Refusal("network-detach", "n", Device("00:16:3e:00:00:09")));
        Assert.Equal("Unknown device 5.", Refusal("network-detach", "n", Device("5")));
        Ask("network-detach", "n", Device("1"));
        Assert.Empty(Devices("network-list", "n"));
        Assert.Empty(_daemon.Toolstack.Find("n")!.Config.Vifs);
    }

    [Fact]
    public void NetworkAttach_ABridgeThatCannotBeHad_IsOneLine_AndAttachesNothing()
    {
        int id = _daemon.CreatePaused("n");
        Assert.Equal(
            "command line: vif 'mac=00:16:3e:00:00:09,bridge=a/b': bridge a/b: 'a/b' is not an interface name (1 to 15 printable characters, none of / : % or space)",
            Refusal("network-attach", "n", Specs("mac=00:16:3e:00:00:09", "bridge=a/b")));
        Assert.Empty(Devices("network-list", "n"));
        using XsClient dom0 = _daemon.Toolstack.Store.Connect(0);
        Assert.Null(dom0.Read($"/local/domain/{id}/device/vif"));
        Assert.Null(dom0.Read($"/local/domain/0/backend/vif/{id}"));
        Assert.Empty(_daemon.Toolstack.Find("n")!.Config.Vifs);
        Assert.Empty(_daemon.Toolstack.Uplinks);
        Assert.Equal(0, Ask("network-attach", "n")["devid"]!.GetValue<int>()); // the refused one took no devid
    }

    [TapFact]
    public void NetworkAttach_OpensTheBridgesUplink_WhichStaysAfterTheVifAndGoesWithTheDaemon() => OwnNetns.Run(() =>
    {
        // Straight to the toolstack on this thread (the socket's threads are in the host's namespace): the verb runs
        // synchronously on the caller's thread, so the TAP is made in the test's namespace.
        JsonObject Here(string verb, Action<JsonObject> more)
        {
            var request = new JsonObject { ["verb"] = verb, ["domain"] = "n" };
            more(request);
            JsonObject reply = _daemon.Toolstack.HandleAsync(request, CancellationToken.None).GetAwaiter().GetResult().Body;
            Assert.True(reply["ok"]!.GetValue<bool>(), reply["error"]?.GetValue<string>());
            return reply;
        }

        _daemon.CreatePaused("n");
        Assert.Equal(0, Here("network-attach", Specs("bridge=xshp0"))["devid"]!.GetValue<int>());
        Assert.Equal(["xshp0"], _daemon.Toolstack.Uplinks.Keys);
        Assert.True(HostInterfaces.Exists("xshp0"));
        TapUplink uplink = _daemon.Toolstack.Uplinks["xshp0"];
        Here("network-attach", Specs("bridge=xshp0")); // a second vif shares it
        Assert.Same(uplink, Assert.Single(_daemon.Toolstack.Uplinks).Value);

        Here("network-detach", Device("0"));
        Here("network-detach", Device("1"));
        Assert.Empty(Devices("network-list", "n"));
        Assert.True(HostInterfaces.Exists("xshp0")); // the host's, as a bridge is: it outlives the vifs

        _daemon.Toolstack.Dispose(); // the daemon's end
        Assert.Empty(_daemon.Toolstack.Uplinks);
        Assert.False(HostInterfaces.Exists("xshp0"));
    });

    [Fact]
    public void List_GivesTopTheDevicesFigures()
    {
        _daemon.CreatePaused("t", $"disk = [ '{Path.Combine(_dir, "b.img")},raw,xvda,rw' ]\nvif = [ '' ]\n");
        Ask("block-attach", "t", Specs("a.img,raw,xvdb,ro"));
        JsonObject t = ((JsonArray)_daemon.Request(new JsonObject { ["verb"] = "list" })["domains"]!).OfType<JsonObject>().Single(d => d["name"]!.GetValue<string>() == "t");
        JsonObject devices = (JsonObject)t["devices"]!;
        Assert.Equal((1, 2, 0L, 0L), (devices["nets"]!.GetValue<int>(), devices["vbds"]!.GetValue<int>(), devices["vbd_rd"]!.GetValue<long>(), devices["net_tx_bytes"]!.GetValue<long>()));
    }

    [Fact]
    public async Task BlockDetach_WaitsForTheGuestsFrontendToClose()
    {
        using var daemon = new DaemonFixture(new DaemonSettings { DetachTimeout = TimeSpan.FromMinutes(10) }); // a limit never reached
        int id = daemon.CreatePaused("g");
        Ask(daemon, "block-attach", "g", Specs("a.img,raw,xvdb"));
        using XsClient guest = daemon.Toolstack.Store.Connect((uint)id);
        string back = $"/local/domain/0/backend/vbd/{id}/51728";

        Task<JsonObject> detach = Task.Run(() => Ask(daemon, "block-detach", "g", Device("xvdb")));
        Assert.True(SpinWait.SpinUntil(() => guest.Read($"{back}/state") == "5", TimeSpan.FromMinutes(2)), "the backend was never set Closing"); // hang guard
        Assert.Equal("0", guest.Read($"{back}/online"));
        Assert.False(detach.IsCompleted);
        Assert.Equal(XsError.None, guest.Write("device/vbd/51728/state", "6")); // the guest's blkfront closes
        await detach.WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Null(guest.Read(back));
        Assert.Null(guest.Read("device/vbd/51728"));
        Assert.Contains(daemon.Ring.Lines(), l => l.EndsWith("g: vbd 51728 detached", StringComparison.Ordinal));
        Assert.DoesNotContain(daemon.Ring.Lines(), l => l.Contains("did not close", StringComparison.Ordinal));
    }

    private static string VifMacText(byte[] mac) => XenSharp.Toolstack.Store.VifMac.Format(mac);
}
