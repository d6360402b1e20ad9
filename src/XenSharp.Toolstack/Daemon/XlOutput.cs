using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// xl's output, from the daemon's replies: the same columns and printf widths as xl (tools/xl's list, info, uptime,
/// vcpu-list), so that scripts written for xl parse ours. Invariant: every line is built with invariant culture.
/// </summary>
public static class XlOutput
{
    /// <summary>xl list's header, byte for byte (its tabs too).</summary>
    public const string ListHeader = "Name                                        ID   Mem VCPUs\tState\tTime(s)";

    /// <summary>libxl_shutdown_reason's letters: poweroff, reboot, suspend, crash, watchdog, soft_reset.</summary>
    private const string ShutdownLetters = "-rscwS";

    public static IEnumerable<string> List(JsonArray domains)
    {
        yield return ListHeader;
        foreach (JsonObject d in domains.OfType<JsonObject>())
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"{Str(d, "name"),-40} {Num(d, "domid"),5} {Num(d, "current_memkb") / 1024,5} {Num(d, "vcpu_online"),5}     {State(d)}  {Num(d, "cpu_time") / 1e9,8:F1}");
        }
    }

    /// <summary>xl list's six state letters: r b p s (shutdown reason) d.</summary>
    public static string State(JsonObject d)
    {
        long reason = Num(d, "shutdown_reason");
        bool shutdown = Flag(d, "shutdown");
        char why = !shutdown ? '-' : reason >= 0 && reason < ShutdownLetters.Length ? ShutdownLetters[(int)reason] : '?';
        return new string([
            Flag(d, "running") ? 'r' : '-',
            Flag(d, "blocked") ? 'b' : '-',
            Flag(d, "paused") ? 'p' : '-',
            shutdown ? 's' : '-',
            why,
            Flag(d, "dying") ? 'd' : '-',
        ]);
    }

    /// <summary>xl list -l: a JSON array of {"domid", "config"}, indented as xl prints it.</summary>
    public static string ListLong(JsonArray domains)
    {
        var array = new JsonArray();
        foreach (JsonObject d in domains.OfType<JsonObject>())
        {
            array.Add(new JsonObject { ["domid"] = Num(d, "domid"), ["config"] = d["config"]?.DeepClone() });
        }

        return array.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>xl info: "key" padded to 23 columns, ": ", the value.</summary>
    public static IEnumerable<string> Info(JsonArray fields) =>
        fields.OfType<JsonArray>().Select(f => $"{f[0]?.GetValue<string>(),-23}: {f[1]?.GetValue<string>()}");

    /// <summary>
    /// `xl info NAME`, as xl's maybe_printf selects: of every line that starts with <paramref name="name"/> (a prefix:
    /// `xen_` picks all the xen_* lines) and has ": " after its key, only the value; nothing for a name no line has.
    /// </summary>
    public static IEnumerable<string> InfoSelect(IEnumerable<string> lines, string name)
    {
        foreach (string line in lines)
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (line.StartsWith(name, StringComparison.Ordinal) && colon >= 0 && colon + 1 < line.Length && line[colon + 1] == ' ')
            {
                yield return line[(colon + 2)..];
            }
        }
    }

    public static IEnumerable<string> Uptime(JsonArray domains)
    {
        yield return $"{"Name",-33} {"ID",4} {"Uptime"}";
        foreach (JsonObject d in domains.OfType<JsonObject>())
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"{Str(d, "name"),-33} {Num(d, "domid"),4} {UptimeText(Num(d, "seconds"))}");
        }
    }

    /// <summary>xl's uptime_to_string, long form: "H:MM:SS", with "N day(s), " before it past a day.</summary>
    public static string UptimeText(long seconds)
    {
        long days = seconds / 86400;
        long rest = seconds % 86400;
        string time = string.Create(CultureInfo.InvariantCulture, $"{rest / 3600,2}:{rest / 60 % 60:D2}:{rest % 60:D2}");
        return days == 0 ? time : string.Create(CultureInfo.InvariantCulture, $"{days} day{(days == 1 ? "" : "s")}, {time}");
    }

    public static IEnumerable<string> VcpuList(JsonArray vcpus)
    {
        yield return $"{"Name",-32} {"ID",5} {"VCPU",5} {"CPU",5} {"State",5} {"Time(s)",9} Affinity (Hard / Soft)";
        foreach (JsonObject v in vcpus.OfType<JsonObject>())
        {
            bool online = Flag(v, "online");
            long cpu = Num(v, "cpu");
            string cpuText = online && cpu >= 0 ? cpu.ToString(CultureInfo.InvariantCulture) : "-";
            string state = new([online && Flag(v, "running") ? 'r' : '-', Flag(v, "blocked") ? 'b' : '-', !online || Flag(v, "paused") ? 'p' : '-']);
            yield return string.Create(CultureInfo.InvariantCulture,
                $"{Str(v, "name"),-32} {Num(v, "domid"),5} {Num(v, "vcpu"),5} {cpuText,5}   {state}  {Num(v, "cpu_time") / 1e9,9:F1}  {v["affinity_hard"]?.GetValue<string>() ?? "all"} / {v["affinity_soft"]?.GetValue<string>() ?? "all"}");
        }
    }

    /// <summary>xl block-list: its header, then a row per disk with xl's printf widths.</summary>
    public static IEnumerable<string> BlockList(JsonArray devices)
    {
        yield return $"{"Vdev",-5} {"BE",-3} {"handle",-6} {"state",-5} {"evt-ch",-6} {"ring-ref",-8} {"BE-path",-30}";
        foreach (JsonObject d in devices.OfType<JsonObject>())
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"{Num(d, "devid"),-5} {Num(d, "backend_id"),-3} {Num(d, "frontend_id"),-6} {Num(d, "state"),-5} {Num(d, "evtch"),-6} {Num(d, "rref"),-8} {Str(d, "backend"),-30}");
        }
    }

    /// <summary>xl network-list: its header, then a row per interface with xl's printf widths (the handle is the devid).</summary>
    public static IEnumerable<string> NetworkList(JsonArray devices)
    {
        yield return $"{"Idx",-3} {"BE",-2} {"Mac Addr.",-17} {"handle",-6} {"state",-5} {"evt-ch",-6} {"tx-",5}/{"rx-ring-ref",-5} {"BE-path",-30}";
        foreach (JsonObject d in devices.OfType<JsonObject>())
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"{Num(d, "devid"),-3} {Num(d, "backend_id"),-2} {Str(d, "mac")}{Num(d, "devid"),6} {Num(d, "state"),5} {Num(d, "evtch"),6} {Num(d, "rref_tx"),5}/{Num(d, "rref_rx"),-11} {Str(d, "backend"),-30}");
        }
    }

    public static IEnumerable<string> SchedBvt(JsonArray domains)
    {
        yield return $"{"Name",-32} {"ID",5} {"McuAdv",7} {"WarpBack",8} {"WarpValue",9} {"WarpL",6} {"WarpU",6}";
        foreach (JsonObject d in domains.OfType<JsonObject>())
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"{Str(d, "name"),-32} {Num(d, "domid"),5} {Num(d, "mcuadv"),7} {Num(d, "warpback"),8} {Num(d, "warpvalue"),9} {Num(d, "warpl"),6} {Num(d, "warpu"),6}");
        }
    }

    /// <summary>
    /// xl's parse_mem_size_kb: a whole number with an optional unit t, g, m, k or b (either case); no unit means MiB.
    /// False for anything else.
    /// </summary>
    public static bool TryParseMemoryKb(string text, out long kb)
    {
        kb = 0;
        int end = 0;
        while (end < text.Length && char.IsAsciiDigit(text[end]))
        {
            end++;
        }

        if (end == 0 || end < text.Length - 1 || !long.TryParse(text.AsSpan(0, end), NumberStyles.None, CultureInfo.InvariantCulture, out long n))
        {
            return false;
        }

        int shift = (end == text.Length ? 'm' : char.ToLowerInvariant(text[end])) switch
        {
            't' => 30,
            'g' => 20,
            'm' => 10,
            'k' => 0,
            'b' => -10,
            _ => int.MinValue,
        };
        if (shift == int.MinValue || (shift > 0 && n > (long.MaxValue >> shift)))
        {
            return false;
        }

        kb = shift >= 0 ? n << shift : n >> 10;
        return true;
    }

    private static string Str(JsonObject o, string key) => o[key]?.GetValue<string>() ?? "";

    private static bool Flag(JsonObject o, string key) => o[key]?.GetValue<bool>() == true;

    private static long Num(JsonObject o, string key) => o[key] is JsonValue v
        ? v.TryGetValue(out long l) ? l : v.TryGetValue(out ulong u) ? (long)u : v.TryGetValue(out int i) ? i : v.TryGetValue(out double dbl) ? (long)dbl : 0
        : 0;

    /// <summary>Lines joined with "\n", each ended.</summary>
    public static string Text(IEnumerable<string> lines)
    {
        var sb = new StringBuilder();
        foreach (string l in lines)
        {
            sb.Append(l).Append('\n');
        }

        return sb.ToString();
    }
}
