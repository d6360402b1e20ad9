using System.Text.Json.Nodes;
using XenSharp.Toolstack.Daemon;
using Xunit;

namespace XenSharp.Tests.Daemon;

/// <summary>`top`'s figures from two samples of `list`, and xentop's batch line widths.</summary>
public sealed class XenTopTests
{
    private static JsonObject Domain(int id, string name, ulong cpuNs, bool running = false, bool paused = false, bool shutdown = false, int reason = 0) => new()
    {
        ["domid"] = id,
        ["name"] = name,
        ["cpu_time"] = cpuNs,
        ["current_memkb"] = 32768,
        ["max_memkb"] = 65536,
        ["vcpu_online"] = 2,
        ["running"] = running,
        ["blocked"] = false,
        ["paused"] = paused,
        ["shutdown"] = shutdown,
        ["shutdown_reason"] = reason,
        ["dying"] = false,
    };

    [Fact]
    public void CpuPercentIsTheCpuTimeGainedOverTheTimeBetweenSamples()
    {
        var before = new JsonArray(Domain(1, "a", 1_000_000_000), Domain(2, "b", 0));
        var now = new JsonArray(Domain(1, "a", 4_000_000_000, running: true), Domain(2, "b", 500_000_000), Domain(3, "new", 9_000_000_000));
        IReadOnlyList<XenTop.Row> rows = XenTop.Rows(before, now, elapsedNs: 2_000_000_000, totalMemKb: 131072);

        Assert.Equal(150.0, rows[0].CpuPercent); // 3 s of CPU in 2 s: two vCPUs, one and a half busy
        Assert.Equal(25.0, rows[1].CpuPercent);
        Assert.Equal(0.0, rows[2].CpuPercent); // not in the previous sample
        Assert.Equal(4, rows[0].CpuSeconds);
        Assert.Equal(25.0, rows[0].MemPercent);
        Assert.Equal(50.0, rows[0].MaxMemPercent);
        Assert.All(XenTop.Rows(null, now, 0, 131072), r => Assert.Equal(0.0, r.CpuPercent)); // the first round
    }

    [Theory]
    [InlineData(true, false, false, 0, "-----r")]
    [InlineData(false, true, false, 0, "----p-")]
    [InlineData(false, true, true, 3, "---cp-")]
    [InlineData(false, false, true, 0, "-s----")]
    public void StateLettersAreXentops(bool running, bool paused, bool shutdown, int reason, string expected)
    {
        Assert.Equal(expected, XenTop.State(Domain(1, "d", 0, running, paused, shutdown, reason)));
    }

    [Fact]
    public void BatchLinesLineUpWithTheHeader()
    {
        string line = XenTop.Line(new XenTop.Row("hello", "-----r", 12, 99.5, 32768, 1.6, 32768, 1.6, 1));
        Assert.Equal(XenTop.Header.Length, line.Length);
        Assert.Equal("     hello -----r         12   99.5      32768    1.6      32768       1.6     1    0        0        0    0        0        0        0          0          0    0", line);
    }

    [Fact]
    public void NetworkAndBlockColumnsComeFromTheDevicesFigures()
    {
        JsonObject d = Domain(1, "net", 0);
        d["devices"] = new JsonObject
        {
            ["nets"] = 2, ["net_tx_bytes"] = 10 * 1024 + 5, ["net_rx_bytes"] = 3 * 1024,
            ["vbds"] = 1, ["vbd_oo"] = 0, ["vbd_rd"] = 7, ["vbd_wr"] = 4, ["vbd_rsect"] = 56, ["vbd_wsect"] = 32,
        };
        XenTop.Row r = Assert.Single(XenTop.Rows(null, new JsonArray(d), 0, 131072));
        Assert.Equal((2L, 10L, 3L, 1L, 0L, 7L, 4L, 56L, 32L), (r.Nets, r.NetTxKb, r.NetRxKb, r.Vbds, r.VbdOo, r.VbdRd, r.VbdWr, r.VbdRsect, r.VbdWsect));
        Assert.EndsWith("    2       10        3    1        0        7        4         56         32    0", XenTop.Line(r));
    }
}
