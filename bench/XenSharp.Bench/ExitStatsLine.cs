using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.Bench;

/// <summary>
/// The counts of one <c>--exit-stats</c> line (README, "Using it"): <c>(XEN) (d1) exits: 412345 in 95.1 s; hypercalls
/// 112000 (mmu_update 40000, ...); vectors ...; emulated ...; ports 199000 (0x42 198000, ...); ...</c>, keyed
/// <c>group/name</c> (<c>hypercalls/mmu_update</c>, <c>ports/0x42</c>, <c>emulated/cli</c>, <c>vectors/#PF</c>) and
/// <c>group</c> for a group's total. Only the ten largest of a group are named in the line; the rest are absent.
/// </summary>
public static partial class ExitStatsLine
{
    public static IReadOnlyDictionary<string, long> Parse(string line)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        int at = line.IndexOf("exits: ", StringComparison.Ordinal);
        if (at < 0)
        {
            return counts;
        }

        foreach (string segment in line[(at + "exits: ".Length)..].Split("; "))
        {
            Match m = Segment().Match(segment.Trim());
            if (!m.Success)
            {
                continue; // "412345 in 95.1 s", and anything a later version adds
            }

            string group = m.Groups["group"].Value;
            counts[group] = long.Parse(m.Groups["total"].Value, CultureInfo.InvariantCulture);
            foreach (string item in m.Groups["items"].Value.Split(", ", StringSplitOptions.RemoveEmptyEntries))
            {
                int space = item.LastIndexOf(' ');
                if (space > 0 && long.TryParse(item.AsSpan(space + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long n))
                {
                    counts[group + "/" + item[..space]] = n;
                }
            }
        }

        return counts;
    }

    [GeneratedRegex(@"^(?<group>[a-z][a-z ]*?) (?<total>\d+)(?: \((?<items>.*)\))?$")]
    private static partial Regex Segment();
}
