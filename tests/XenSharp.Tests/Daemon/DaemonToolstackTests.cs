using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using XenSharp.Toolstack.Daemon;
using Xunit;

namespace XenSharp.Tests.Daemon;

/// <summary>
/// The daemon's verbs over its socket, without KVM: domains created paused (`create -p`), listed, named, resolved,
/// paused, given memory and BVT parameters, attached to and destroyed.
/// </summary>
public sealed class DaemonToolstackTests : IDisposable
{
    private readonly DaemonFixture _daemon = new();

    public void Dispose() => _daemon.Dispose();

    private JsonObject Ask(string verb, string? domain = null, Action<JsonObject>? more = null)
    {
        var request = new JsonObject { ["verb"] = verb };
        if (domain is not null)
        {
            request["domain"] = domain;
        }

        more?.Invoke(request);
        return _daemon.Request(request);
    }

    private string Refusal(string verb, string? domain = null, Action<JsonObject>? more = null) =>
        Assert.Throws<DaemonException>(() => Ask(verb, domain, more)).Message;

    private JsonArray ListDomains() => (JsonArray)Ask("list")["domains"]!;

    [Fact]
    public void CreatePaused_ListsDomain0ThenTheDomainsPausedInIdOrder()
    {
        int a = _daemon.CreatePaused("alpha");
        int b = _daemon.CreatePaused("beta", "vcpus = 2\n");
        Assert.True(b > a);

        JsonArray list = ListDomains();
        Assert.Equal(["Domain-0", "alpha", "beta"], list.Select(d => d!["name"]!.GetValue<string>()));
        JsonObject beta = (JsonObject)list[2]!;
        Assert.Equal(b, beta["domid"]!.GetValue<int>());
        Assert.Equal(1, beta["vcpu_max_id"]!.GetValue<int>()); // two vCPUs
        Assert.Equal(1, beta["vcpu_online"]!.GetValue<int>()); // vCPU 0, built; the guest brings up the other
        Assert.True(beta["paused"]!.GetValue<bool>());
        Assert.Equal(8 * 1024, beta["max_memkb"]!.GetValue<long>());
        Assert.Equal("--p---", XlOutput.State(beta));
        Assert.Equal("beta", beta["config"]!["c_info"]!["name"]!.GetValue<string>());
        Assert.Equal("destroy", beta["config"]!["on_poweroff"]!.GetValue<string>());
    }

    [Fact]
    public void KeyValueArgumentsOverrideTheFile()
    {
        string path = _daemon.Config("base");
        JsonObject reply = _daemon.Request(new JsonObject
        {
            ["verb"] = "create", ["config"] = File.ReadAllText(path), ["path"] = path, ["paused"] = true,
            ["overrides"] = new JsonArray("name=\"other\"", "memory=12"),
        });
        Assert.Equal("other", reply["name"]!.GetValue<string>());
        JsonObject other = (JsonObject)ListDomains()[1]!;
        Assert.Equal(12 * 1024, other["max_memkb"]!.GetValue<long>());
    }

    [Fact]
    public void ADuplicateNameOrABadConfigIsRefusedInOneLine()
    {
        _daemon.CreatePaused("same");
        Assert.Throws<DaemonException>(() => _daemon.CreatePaused("same"));
        string path = _daemon.Config("broken", "memory = \n");
        var e = Assert.Throws<DaemonException>(() => _daemon.Request(new JsonObject { ["verb"] = "create", ["config"] = File.ReadAllText(path), ["path"] = path, ["paused"] = true }));
        Assert.Contains("broken.cfg", e.Message);
        Assert.DoesNotContain("\n", e.Message);
        Assert.Equal(2, ListDomains().Count);
    }

    [Fact]
    public void NamesAndIdsResolveAsXlDoes_UnknownOnesAreXlsOneLine()
    {
        int id = _daemon.CreatePaused("gamma");
        Assert.Equal(id, Ask("domid", "gamma")["domid"]!.GetValue<int>());
        Assert.Equal("gamma", Ask("domname", id.ToString(System.Globalization.CultureInfo.InvariantCulture))["name"]!.GetValue<string>());
        Assert.Equal(0, Ask("domid", "Domain-0")["domid"]!.GetValue<int>());
        Assert.Equal("Domain-0", Ask("domname", "0")["name"]!.GetValue<string>());

        Assert.Equal("nosuch is an invalid domain identifier (rc=-6)", Refusal("pause", "nosuch"));
        Assert.Equal("77 is an invalid domain identifier (rc=-6)", Refusal("destroy", "77"));
        Assert.Equal("Can't get domid of domain name 'nosuch', maybe this domain does not exist.", Refusal("domid", "nosuch"));
        Assert.Equal("Can't get domain name of domain id '77', maybe this domain does not exist.", Refusal("domname", "77"));
    }

    [Fact]
    public void Destroy_RemovesOneDomain_TheOthersStay_AndItsMemoryIsFree()
    {
        ulong free = _daemon.Hypervisor.Control.FreePages;
        _daemon.CreatePaused("keep");
        _daemon.CreatePaused("drop");
        Ask("destroy", "drop");
        Assert.Equal(["Domain-0", "keep"], ListDomains().Select(d => d!["name"]!.GetValue<string>()));
        Ask("destroy", "keep");
        Assert.Equal(free, _daemon.Hypervisor.Control.FreePages);
        Assert.Contains(_daemon.Ring.Lines(), l => l.EndsWith("drop: destroyed by the toolstack", StringComparison.Ordinal));
    }

    [Fact]
    public void PauseNests_AndUnpausingANeverStartedDomainTriesToStartIt()
    {
        _daemon.CreatePaused("p");
        Ask("pause", "p");
        Ask("unpause", "p"); // releases the pause above; the domain is still paused as created
        Assert.True(ListDomains()[1]!["paused"]!.GetValue<bool>());
        Assert.Contains("no KVM machine", Refusal("unpause", "p")); // this hypervisor cannot run it
        Assert.Equal(2, ListDomains().Count); // still there, still paused
    }

    [Fact]
    public void MemSetAndMemMax_ChangeTheDomainAndItsStoreNodes()
    {
        int id = _daemon.CreatePaused("m");
        Ask("mem-set", "m", r => r["memkb"] = 4096);
        Assert.Equal("4096", _daemon.Toolstack.Store.Connect(0).Read($"/local/domain/{id}/memory/target"));
        Assert.Equal(4096, ListDomains()[1]!["target_memkb"]!.GetValue<long>());
        Assert.Contains("memory_static_max", Refusal("mem-set", "m", r => r["memkb"] = 64 * 1024));
        Ask("mem-max", "m", r => r["memkb"] = 6 * 1024);
        Assert.Equal(6 * 1024, ListDomains()[1]!["max_memkb"]!.GetValue<long>());
    }

    [Fact]
    public void InfoUptimeVcpuListAndDmesgAnswer()
    {
        _daemon.CreatePaused("i", "vcpus = 2\n");
        JsonArray fields = (JsonArray)Ask("info")["fields"]!;
        Dictionary<string, string> info = fields.ToDictionary(f => f![0]!.GetValue<string>(), f => f![1]!.GetValue<string>());
        Assert.Equal("bvt", info["xen_scheduler"]);
        Assert.Equal("1", info["nr_cpus"]);
        Assert.Equal("96", info["total_memory"]);
        Assert.Equal("xen-3.0-x86_64", info["xen_caps"]);
        Assert.Equal("pv", info["virt_caps"]); // xtf-runner intersects it with {pv, hvm, hap, shadow}: pv tests only

        Assert.Equal(["Domain-0", "i"], ((JsonArray)Ask("uptime")["domains"]!).Select(d => d!["name"]!.GetValue<string>()));
        JsonArray vcpus = (JsonArray)Ask("vcpu-list", more: r => r["domains"] = new JsonArray("i"))["vcpus"]!;
        Assert.Equal([0, 1], vcpus.Select(v => v!["vcpu"]!.GetValue<int>()));

        _daemon.Hypervisor.Log.Write("a line for dmesg");
        Assert.Contains("(XEN) a line for dmesg", ((JsonArray)Ask("dmesg")["lines"]!).Select(l => l!.GetValue<string>()));
    }

    [Fact]
    public void VcpuPin_SetsHardAndSoftAffinities_VcpuListShowsThemAsXlPrintsThem()
    {
        using var daemon = new DaemonFixture(pcpus: 4);
        int id = daemon.CreatePaused("v", "vcpus = 3\n");
        JsonObject Pin(string vcpu, string hard, string? soft = null) => daemon.Request(new JsonObject
        {
            ["verb"] = "vcpu-pin", ["domain"] = "v", ["vcpu"] = vcpu, ["hard"] = hard, ["soft"] = soft,
        });
        string[] Affinities() => ((JsonArray)daemon.Request(new JsonObject { ["verb"] = "vcpu-list", ["domains"] = new JsonArray("v") })["vcpus"]!)
            .Select(v => $"{v!["affinity_hard"]} / {v!["affinity_soft"]}").ToArray();

        Assert.Equal(["all / all", "all / all", "all / all"], Affinities());
        Pin("0", "0-1,3");
        Pin("1", "all,^2", "2");
        Assert.Equal(["0-1,3 / all", "0-1,3 / 2", "all / all"], Affinities());
        Pin("all", "^0,2-3");  // applied in order to an empty set: 2-3
        Assert.Equal(["2-3 / all", "2-3 / 2", "2-3 / all"], Affinities());
        Pin("2", "-", "1,3"); // "-": the hard affinity stays
        Assert.Equal(["2-3 / all", "2-3 / 2", "2-3 / 1,3"], Affinities());
        Pin("all", "all", "all");
        Assert.Equal(["all / all", "all / all", "all / all"], Affinities());
        Assert.Equal([(IReadOnlyList<int>?)null, null, null], daemon.Hypervisor.Control.GetVcpus((ushort)id).Select(v => v.HardAffinity));

        string Refused(string vcpu, string hard) => Assert.Throws<DaemonException>(() => Pin(vcpu, hard)).Message;
        Assert.Equal("Invalid cpumap '4': CPU 4 is out of range (the host has 4 CPUs: 0-3)", Refused("0", "4"));
        Assert.Equal("Invalid cpumap '0-7': CPU 7 is out of range (the host has 4 CPUs: 0-3)", Refused("0", "0-7"));
        Assert.Equal("Invalid cpumap '^1': it leaves no CPU", Refused("0", "^1"));
        Assert.Equal("Invalid cpumap '3-1': '3-1' is not a number or a range", Refused("0", "3-1"));
        Assert.Equal("Invalid cpumap 'x': 'x' is not a number or a range", Refused("0", "x"));
        Assert.Equal("Invalid cpumap '': no CPUs", Refused("0", ""));
        Assert.Equal("Could not set affinity for vcpu `3': domain " + id + " has 3 vCPUs (0-2)", Refused("3", "0"));
        Assert.Equal("Error: Invalid argument one as VCPU.", Refused("one", "0"));
        Assert.Equal(["all / all", "all / all", "all / all"], Affinities()); // nothing changed
    }

    [Fact]
    public void SchedBvt_GetsAndSetsADomainsParameters_AndRefusesBadOnes()
    {
        _daemon.CreatePaused("s");
        Ask("sched-bvt", "s", r => { r["mcuadv"] = 20; r["warpback"] = 1; });
        JsonObject row = (JsonObject)((JsonArray)Ask("sched-bvt", "s")["domains"]!)[0]!;
        Assert.Equal(20, row["mcuadv"]!.GetValue<long>());
        Assert.Equal(1, row["warpback"]!.GetValue<long>());
        Assert.Contains("refused", Refusal("sched-bvt", "s", r => r["mcuadv"] = 0));
    }

    [Fact]
    public async Task Console_ReplaysWhatTheDomainPrinted_AndCtrlRightBracketDetaches()
    {
        _daemon.CreatePaused("c");
        ManagedDomain m = _daemon.Toolstack.Find("c")!;
        m.Console.Write("before attach\n"u8);

        using ControlClient client = _daemon.Connect();
        await client.RequestAsync(new JsonObject { ["verb"] = "console", ["domain"] = "c" });
        Assert.Equal("before attach\n", await ReadAtLeast(client.Stream, "before attach\n".Length));
        m.Console.Write("while attached\n"u8);
        Assert.Equal("while attached\n", await ReadAtLeast(client.Stream, "while attached\n".Length));

        await client.Stream.WriteAsync("ls\n"u8.ToArray().Concat(new[] { ConsoleHub.Detach }).ToArray());
        Assert.Equal(0, await client.Stream.ReadAsync(new byte[16])); // detached: the daemon closes the session (ConsoleHubTests: the typed bytes)
        Assert.Equal(2, ListDomains().Count); // the domain is untouched
    }

    [Fact]
    public async Task DestroyEndsTheConsoleSessionsOfTheDomain()
    {
        _daemon.CreatePaused("gone");
        using ControlClient client = _daemon.Connect();
        await client.RequestAsync(new JsonObject { ["verb"] = "console", ["domain"] = "gone" });
        Ask("destroy", "gone");
        Assert.Equal(0, await client.Stream.ReadAsync(new byte[16]));
    }

    [Fact]
    public async Task Destroy_TheConsoleGetsEverythingTheDomainPrinted_ThenItsEnd()
    {
        _daemon.CreatePaused("last");
        ManagedDomain m = _daemon.Toolstack.Find("last")!;
        using ControlClient client = _daemon.Connect();
        await client.RequestAsync(new JsonObject { ["verb"] = "console", ["domain"] = "last" });
        var expected = new StringBuilder();
        for (int i = 0; i < 2000; i++) // many small writes queued for the client as the domain goes: none may be lost
        {
            string line = $"line {i}\n";
            m.Console.Write(Encoding.ASCII.GetBytes(line));
            expected.Append(line);
        }

        m.Console.Write("Test result: SUCCESS\n"u8);
        expected.Append("Test result: SUCCESS\n");
        Ask("destroy", "last");
        var got = new MemoryStream();
        await client.Stream.CopyToAsync(got); // to the end of the session
        Assert.Equal(expected.ToString(), Encoding.ASCII.GetString(got.ToArray()));
    }

    private static async Task<string> ReadAtLeast(NetworkStream stream, int count)
    {
        byte[] buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer);
        return Encoding.UTF8.GetString(buffer);
    }
}
