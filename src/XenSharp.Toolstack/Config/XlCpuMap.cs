using System.Globalization;

namespace XenSharp.Toolstack.Config;

/// <summary>
/// xl's cpumap text (xl vcpu-pin's CPUS, a config's cpus= and cpus_soft=; xl's parse_cpurange and print_bitmap):
/// parsed into the set of physical CPUs it names, and printed back as vcpu-list's Affinity column prints it. A
/// comma-separated list of items applied in order to an empty set, each "N", "N-M" or "all", or "node:N",
/// "nodes:N-M" for whole NUMA nodes; each but "all" may start with '^' to take its CPUs out instead ("all,^2").
/// XenSharp's host is one NUMA node, node 0, holding every CPU. Invariant: a parsed set is not empty and every CPU
/// in it is below the host's count.
/// </summary>
public static class XlCpuMap
{
    /// <summary>The CPUs <paramref name="text"/> names on a host of <paramref name="cpus"/>; a <see cref="CpuMapException"/> in one line if it is malformed, empty or names a CPU or node the host lacks.</summary>
    public static SortedSet<int> Parse(string text, int cpus)
    {
        var set = new SortedSet<int>();
        if (text.Length == 0)
            throw new CpuMapException("Invalid cpumap '': no CPUs");
        foreach (string raw in text.Split(','))
        {
            bool exclude = raw.StartsWith('^');
            string item = exclude ? raw[1..] : raw;
            bool nodes = item.StartsWith("node:", StringComparison.Ordinal) || item.StartsWith("nodes:", StringComparison.Ordinal);
            string range = nodes ? item[(item.IndexOf(':', StringComparison.Ordinal) + 1)..] : item;
            bool all = range == "all";
            if (all && exclude)
                throw new CpuMapException($"Invalid cpumap '{text}': can't combine \"^\" and \"all\"");
            (int from, int to) = all ? (0, cpus - 1) : Range(text, range);
            if (nodes && !all)
            {
                if (to > 0)
                    throw new CpuMapException($"Invalid cpumap '{text}': node {to} is out of range (the host is one NUMA node: 0)");
                (from, to) = (0, cpus - 1);
            }

            if (to >= cpus)
                throw new CpuMapException($"Invalid cpumap '{text}': CPU {to} is out of range (the host has {cpus} CPUs: 0-{cpus - 1})");
            for (int c = from; c <= to; c++)
            {
                if (exclude)
                    set.Remove(c);
                else
                    set.Add(c);
            }
        }

        if (set.Count == 0)
            throw new CpuMapException($"Invalid cpumap '{text}': it leaves no CPU");
        return set;
    }

    /// <summary>A set as xl prints a cpumap: "all" for every CPU (or null), else ranges ("0-1,3"); "none" for none.</summary>
    public static string Format(IReadOnlyCollection<int>? set, int cpus)
    {
        if (set is null || (set.Count >= cpus && Enumerable.Range(0, cpus).All(set.Contains)))
            return "all";
        if (set.Count == 0)
            return "none";
        var parts = new List<string>();
        int[] sorted = set.Order().ToArray();
        for (int i = 0; i < sorted.Length;)
        {
            int j = i;
            while (j + 1 < sorted.Length && sorted[j + 1] == sorted[j] + 1)
                j++;
            parts.Add(i == j
                ? sorted[i].ToString(CultureInfo.InvariantCulture)
                : string.Create(CultureInfo.InvariantCulture, $"{sorted[i]}-{sorted[j]}"));
            i = j + 1;
        }

        return string.Join(',', parts);
    }

    private static (int From, int To) Range(string text, string item)
    {
        int dash = item.IndexOf('-', StringComparison.Ordinal);
        string a = dash < 0 ? item : item[..dash], b = dash < 0 ? item : item[(dash + 1)..];
        if (!Cpu(a, out int from) || !Cpu(b, out int to) || to < from)
            throw new CpuMapException($"Invalid cpumap '{text}': '{item}' is not a number or a range");
        return (from, to);
    }

    private static bool Cpu(string s, out int cpu) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out cpu);
}
