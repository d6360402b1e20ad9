using System.Globalization;
using System.Text.Json.Nodes;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// `top`'s figures, as xentop shows them: per domain its state (xentop's order: d s b c p r), CPU seconds, the CPU %
/// since the previous sample (CPU time gained over the time between the samples, so 200% is two vCPUs busy), memory
/// and its share of the machine pool, the maximum, vCPUs; its network interfaces and the KiB they carried (NETTX: what
/// the guest sent, NETRX: what it received), and its block devices with blkback's request and sector counts (VBD_OO,
/// VBD_RD, VBD_WR, VBD_RSECT, VBD_WSECT), all from the backends' own counters (the `list` reply's "devices"). Batch
/// lines have xentop's widths.
/// </summary>
public static class XenTop
{
    public const string Header =
        "      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS NETS NETTX(k) NETRX(k) VBDS   VBD_OO   VBD_RD   VBD_WR  VBD_RSECT  VBD_WSECT SSID";

    /// <summary>One domain's figures.</summary>
    public sealed record Row(string Name, string State, long CpuSeconds, double CpuPercent, long MemKb, double MemPercent, long MaxMemKb, double MaxMemPercent, long Vcpus)
    {
        public long Nets { get; init; }

        public long NetTxKb { get; init; }

        public long NetRxKb { get; init; }

        public long Vbds { get; init; }

        public long VbdOo { get; init; }

        public long VbdRd { get; init; }

        public long VbdWr { get; init; }

        public long VbdRsect { get; init; }

        public long VbdWsect { get; init; }
    }

    /// <summary>
    /// The rows of sample <paramref name="current"/> (a `list` reply's domains), CPU % against <paramref name="previous"/>
    /// taken <paramref name="elapsedNs"/> earlier (0 for a domain not in it, or for the first sample).
    /// </summary>
    public static IReadOnlyList<Row> Rows(JsonArray? previous, JsonArray current, long elapsedNs, long totalMemKb)
    {
        var before = (previous ?? []).OfType<JsonObject>().ToDictionary(d => Num(d, "domid"), d => Num(d, "cpu_time"));
        return current.OfType<JsonObject>().Select(d =>
        {
            long cpu = Num(d, "cpu_time");
            double pct = elapsedNs > 0 && before.TryGetValue(Num(d, "domid"), out long was) && cpu >= was ? 100.0 * (cpu - was) / elapsedNs : 0;
            long mem = Num(d, "current_memkb");
            long max = Num(d, "max_memkb");
            JsonObject devices = d["devices"] as JsonObject ?? [];
            return new Row(
                d["name"]?.GetValue<string>() ?? "",
                State(d),
                cpu / 1_000_000_000,
                pct,
                mem,
                totalMemKb > 0 ? 100.0 * mem / totalMemKb : 0,
                max,
                totalMemKb > 0 ? 100.0 * max / totalMemKb : 0,
                Num(d, "vcpu_online"))
            {
                Nets = Num(devices, "nets"),
                NetTxKb = Num(devices, "net_tx_bytes") / 1024,
                NetRxKb = Num(devices, "net_rx_bytes") / 1024,
                Vbds = Num(devices, "vbds"),
                VbdOo = Num(devices, "vbd_oo"),
                VbdRd = Num(devices, "vbd_rd"),
                VbdWr = Num(devices, "vbd_wr"),
                VbdRsect = Num(devices, "vbd_rsect"),
                VbdWsect = Num(devices, "vbd_wsect"),
            };
        }).ToList();
    }

    /// <summary>xentop's state letters: dying, shutdown, blocked, crashed, paused, running.</summary>
    public static string State(JsonObject d)
    {
        bool shutdown = Flag(d, "shutdown");
        bool crashed = shutdown && Num(d, "shutdown_reason") == 3;
        return new string([
            Flag(d, "dying") ? 'd' : '-',
            shutdown && !crashed ? 's' : '-',
            Flag(d, "blocked") ? 'b' : '-',
            crashed ? 'c' : '-',
            Flag(d, "paused") ? 'p' : '-',
            Flag(d, "running") ? 'r' : '-',
        ]);
    }

    /// <summary>A row as xentop -b prints it.</summary>
    public static string Line(Row r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Name,10} {r.State,6} {r.CpuSeconds,10} {r.CpuPercent,6:F1} {r.MemKb,10} {r.MemPercent,6:F1} {r.MaxMemKb,10} {r.MaxMemPercent,9:F1} {r.Vcpus,5} {r.Nets,4} {r.NetTxKb,8} {r.NetRxKb,8} {r.Vbds,4} {r.VbdOo,8} {r.VbdRd,8} {r.VbdWr,8} {r.VbdRsect,10} {r.VbdWsect,10} {0,4}");

    private static bool Flag(JsonObject o, string key) => o[key]?.GetValue<bool>() == true;

    private static long Num(JsonObject o, string key) => o[key] is JsonValue v
        ? v.TryGetValue(out long l) ? l : v.TryGetValue(out ulong u) ? (long)u : v.TryGetValue(out int i) ? i : v.TryGetValue(out double dbl) ? (long)dbl : 0
        : 0;
}
