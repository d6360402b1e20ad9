using System.Text.Json.Nodes;
using XenSharp.Backends.Xenstore;
using XenSharp.Toolstack.Daemon;
using Xunit;

namespace XenSharp.Tests.Daemon;

/// <summary>
/// rename, sysrq, vcpu-set, block-list and network-list over the daemon's socket, without KVM (domains created
/// paused): the store nodes xl writes or reads, and xl's refusals.
/// </summary>
public sealed class DaemonVerbsTests : IDisposable
{
    private readonly DaemonFixture _daemon = new();
    private readonly string _image = Path.Combine(Path.GetTempPath(), $"xensharp-verbs-{Guid.NewGuid():N}.img");
    private readonly XsClient _dom0;

    public DaemonVerbsTests()
    {
        _dom0 = _daemon.Toolstack.Store.Connect(0);
    }

    public void Dispose()
    {
        _dom0.Dispose();
        _daemon.Dispose();
        File.Delete(_image);
    }

    private JsonObject Ask(string verb, string domain, Action<JsonObject>? more = null)
    {
        var request = new JsonObject { ["verb"] = verb, ["domain"] = domain };
        more?.Invoke(request);
        return _daemon.Request(request);
    }

    private string Refusal(string verb, string domain, Action<JsonObject>? more = null) =>
        Assert.Throws<DaemonException>(() => Ask(verb, domain, more)).Message;

    [Fact]
    public void Rename_ChangesTheStoresNameAndVmName_AndTheDomainAnswersToIt()
    {
        int id = _daemon.CreatePaused("old");
        string vm = _dom0.Read($"/local/domain/{id}/vm")!;

        Ask("rename", "old", r => r["name"] = "new");

        Assert.Equal("new", _dom0.Read($"/local/domain/{id}/name"));
        Assert.Equal("new", _dom0.Read($"{vm}/name"));
        Assert.Equal(id, Ask("domid", "new")["domid"]!.GetValue<int>());
        Assert.Equal("new", ((JsonArray)_daemon.Request(new JsonObject { ["verb"] = "list" })["domains"]!)[1]!["name"]!.GetValue<string>());
        Assert.Equal("old is an invalid domain identifier (rc=-6)", Refusal("pause", "old"));
        Ask("rename", "new", r => r["name"] = "new"); // its own name: as libxl, no change and no error
    }

    [Fact]
    public void Rename_ToATakenNameIsLibxlsError()
    {
        _daemon.CreatePaused("one");
        int two = _daemon.CreatePaused("two");
        Assert.Equal("domain with name \"one\" already exists.", Refusal("rename", "two", r => r["name"] = "one"));
        Assert.Equal("domain with name \"Domain-0\" already exists.", Refusal("rename", "two", r => r["name"] = "Domain-0"));
        Assert.Equal("two", _dom0.Read($"/local/domain/{two}/name"));
    }

    [Fact]
    public void Sysrq_WritesTheKeyToControlSysrq()
    {
        int id = _daemon.CreatePaused("s");
        Ask("sysrq", "s", r => r["key"] = "h");
        Assert.Equal("h", _dom0.Read($"/local/domain/{id}/control/sysrq"));
        Assert.Equal("Invalid sysrq.", Refusal("sysrq", "s", r => r["key"] = "hh"));
    }

    [Fact]
    public void VcpuSet_SetsEachVcpusAvailability_AndRefusesMoreThanTheMaximum()
    {
        int id = _daemon.CreatePaused("v", "vcpus = 3\n");
        string Availability(int i) => _dom0.Read($"/local/domain/{id}/cpu/{i}/availability")!;
        Assert.Equal(["online", "online", "online"], Enumerable.Range(0, 3).Select(Availability));

        Ask("vcpu-set", "v", r => { r["count"] = 1; r["ignore_host"] = true; });
        Assert.Equal(["online", "offline", "offline"], Enumerable.Range(0, 3).Select(Availability));

        Ask("vcpu-set", "v", r => { r["count"] = 2; r["ignore_host"] = true; });
        Assert.Equal(["online", "online", "offline"], Enumerable.Range(0, 3).Select(Availability));

        Assert.Equal("Requested 4 VCPUs, however maxcpus is 3!", Refusal("vcpu-set", "v", r => { r["count"] = 4; r["ignore_host"] = true; }));
        Assert.Equal("Requested 0 VCPUs!", Refusal("vcpu-set", "v", r => r["count"] = 0));
        Assert.Equal("online", Availability(1));
    }

    [Fact]
    public void VcpuSet_MoreThanTheHostsCpusIsXlsOvercommitRefusal_UnlessIgnored()
    {
        _daemon.CreatePaused("o", "vcpus = 2\n"); // the fixture's hypervisor has one physical CPU
        Assert.Equal("You are overcommmitting! You have 1 physical CPUs and want 2 vCPUs! Aborting, use --ignore-host to  continue",
            Refusal("vcpu-set", "o", r => r["count"] = 2));
        Ask("vcpu-set", "o", r => r["count"] = 1);
    }

    [Fact]
    public void BlockList_ReadsTheFrontendNodes_AndNetworkListIsEmptyWithoutVifs()
    {
        File.WriteAllBytes(_image, new byte[4096]);
        int id = _daemon.CreatePaused("b", $"disk = [ '{_image},raw,xvda,rw' ]\n");

        var disks = (JsonArray)_daemon.Request(new JsonObject { ["verb"] = "block-list", ["domains"] = new JsonArray("b") })["devices"]!;
        JsonObject disk = Assert.IsType<JsonObject>(Assert.Single(disks));
        Assert.Equal(51712, disk["devid"]!.GetValue<int>());
        Assert.Equal(0, disk["backend_id"]!.GetValue<long>());
        Assert.Equal(id, disk["frontend_id"]!.GetValue<int>());
        Assert.Equal(1, disk["state"]!.GetValue<long>()); // Initialising: no frontend has connected
        Assert.Equal(-1, disk["evtch"]!.GetValue<long>());
        Assert.Equal(-1, disk["rref"]!.GetValue<long>());
        Assert.Equal($"/local/domain/0/backend/vbd/{id}/51712", disk["backend"]!.GetValue<string>());

        var nics = (JsonArray)_daemon.Request(new JsonObject { ["verb"] = "network-list", ["domains"] = new JsonArray("b") })["devices"]!;
        Assert.Empty(nics);
    }
}
