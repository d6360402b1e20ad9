using System.Text.Json.Nodes;
using XenSharp.Toolstack.Daemon;
using Xunit;

namespace XenSharp.Tests.Daemon;

/// <summary>xl's output formats, column for column: list (and its state letters), info, uptime, vcpu-list; xl's memory sizes.</summary>
public sealed class XlOutputTests
{
    private static JsonObject Domain(string name, int id, long memkb, int vcpus, double seconds, bool running = false, bool blocked = false,
        bool paused = false, bool shutdown = false, int reason = 0) => new()
        {
            ["name"] = name,
            ["domid"] = id,
            ["current_memkb"] = memkb,
            ["vcpu_online"] = vcpus,
            ["cpu_time"] = (ulong)(seconds * 1e9),
            ["running"] = running,
            ["blocked"] = blocked,
            ["paused"] = paused,
            ["shutdown"] = shutdown,
            ["shutdown_reason"] = reason,
            ["dying"] = false,
            ["config"] = new JsonObject { ["c_info"] = new JsonObject { ["name"] = name } },
        };

    [Fact]
    public void ListHasXlsHeaderAndColumns()
    {
        var domains = new JsonArray(Domain("Domain-0", 0, 2048 * 1024, 4, 1234.56, running: true), Domain("hello", 3, 32 * 1024, 1, 0.25, blocked: true));
        string[] lines = [.. XlOutput.List(domains)];
        Assert.Equal("Name                                        ID   Mem VCPUs\tState\tTime(s)", lines[0]);
        Assert.Equal("Domain-0                                     0  2048     4     r-----    1234.6", lines[1]);
        Assert.Equal("hello                                        3    32     1     -b----       0.2", lines[2]);
    }

    [Theory]
    [InlineData(false, false, true, false, 0, "--p---")]
    [InlineData(false, false, true, true, 3, "--psc-")]
    [InlineData(false, false, false, true, 0, "---s--")]
    [InlineData(false, false, false, true, 1, "---sr-")]
    [InlineData(true, false, false, false, 0, "r-----")]
    public void StateLettersAreXls(bool running, bool blocked, bool paused, bool shutdown, int reason, string expected)
    {
        Assert.Equal(expected, XlOutput.State(Domain("d", 1, 0, 1, 0, running, blocked, paused, shutdown, reason)));
    }

    [Fact]
    public void ListLongIsAnArrayOfDomidAndConfig()
    {
        JsonArray parsed = JsonNode.Parse(XlOutput.ListLong(new JsonArray(Domain("hello", 3, 1, 1, 0))))!.AsArray();
        Assert.Equal(3, parsed[0]!["domid"]!.GetValue<int>());
        Assert.Equal("hello", parsed[0]!["config"]!["c_info"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public void InfoKeysArePaddedTo23Columns()
    {
        var fields = new JsonArray(new JsonArray("host", "box"), new JsonArray("xen_scheduler", "bvt"));
        Assert.Equal(["host                   : box", "xen_scheduler          : bvt"], XlOutput.Info(fields));
    }

    [Fact]
    public void InfoSelect_IsXlInfoNamesValues_ByKeyPrefix()
    {
        string[] lines = [.. XlOutput.Info(new JsonArray(
            new JsonArray("virt_caps", "pv"), new JsonArray("xen_major", "4"), new JsonArray("xen_minor", "17"), new JsonArray("xen_changeset", "")))];
        Assert.Equal(["pv"], XlOutput.InfoSelect(lines, "virt_caps"));
        Assert.Equal(["4", "17", ""], XlOutput.InfoSelect(lines, "xen_")); // a prefix, as xl's strncmp: every xen_* value
        Assert.Empty(XlOutput.InfoSelect(lines, "hw_caps"));
        Assert.Empty(XlOutput.InfoSelect(["virt_caps              :"], "virt_caps")); // no ": " (xl prints none without caps)
    }

    [Theory]
    [InlineData(5, " 0:00:05")]
    [InlineData(3723, " 1:02:03")]
    [InlineData(86400 + 60, "1 day,  0:01:00")]
    [InlineData(3 * 86400, "3 days,  0:00:00")]
    public void UptimeIsXlsLongForm(long seconds, string expected)
    {
        Assert.Equal(expected, XlOutput.UptimeText(seconds));
    }

    [Fact]
    public void UptimeAndVcpuListHaveXlsHeaders()
    {
        Assert.Equal("Name                                ID Uptime", XlOutput.Uptime([]).First());
        Assert.Equal("Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)", XlOutput.VcpuList([]).First());
    }

    [Theory]
    [InlineData("256", 256 * 1024)]
    [InlineData("256m", 256 * 1024)]
    [InlineData("1G", 1024 * 1024)]
    [InlineData("512k", 512)]
    [InlineData("4096b", 4)]
    [InlineData("1t", 1L << 30)]
    public void MemorySizesAreXls_MiBWithoutAUnit(string text, long kb)
    {
        Assert.True(XlOutput.TryParseMemoryKb(text, out long got));
        Assert.Equal(kb, got);
    }

    [Theory]
    [InlineData("")]
    [InlineData("m")]
    [InlineData("12x")]
    [InlineData("12mb")]
    [InlineData("-5")]
    [InlineData("99999999999999999999")]
    public void BadMemorySizesAreRefused(string text)
    {
        Assert.False(XlOutput.TryParseMemoryKb(text, out _));
    }

    [Fact]
    public void BlockListHasXlsColumns()
    {
        var disk = new JsonObject { ["devid"] = 51712, ["backend_id"] = 0, ["frontend_id"] = 3, ["state"] = 4, ["evtch"] = 7, ["rref"] = 8, ["backend"] = "/local/domain/0/backend/vbd/3/51712" };
        Assert.Equal(
        [
            "Vdev  BE  handle state evt-ch ring-ref BE-path" + new string(' ', 23),
            "51712 0   3      4     7      8        /local/domain/0/backend/vbd/3/51712",
        ], XlOutput.BlockList([disk]));
    }

    [Fact]
    public void NetworkListHasXlsColumns_TheMacRightAgainstTheHandle()
    {
        var nic = new JsonObject { ["devid"] = 0, ["backend_id"] = 0, ["mac"] = "00:16:3e:01:02:03", ["state"] = 4, ["evtch"] = 9, ["rref_tx"] = 768, ["rref_rx"] = 769, ["backend"] = "/local/domain/0/backend/vif/3/0" };
        Assert.Equal(
        [
            "Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path" + new string(' ', 23),
            "0   0  00:16:3e:01:02:03     0     4      9   768/769         /local/domain/0/backend/vif/3/0",
        ], XlOutput.NetworkList([nic]));
        Assert.Single(XlOutput.NetworkList([]));
    }
}
