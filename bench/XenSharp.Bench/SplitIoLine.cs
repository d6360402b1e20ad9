using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.Bench;

/// <summary>
/// One result of bench/native/splitio.c, "bytes=B ns=N", found after a marker word (the guests print
/// "split-disk-write bytes=0 ns=…"; a console line may carry a "[domain] " prefix, a CR, or "listening" before it).
/// </summary>
public sealed partial record SplitIoLine(long Bytes, long Nanoseconds)
{
    public double Seconds => Nanoseconds * 1e-9;

    /// <summary>MB/s (10⁶ bytes per second) for <paramref name="bytes"/> moved in this line's time.</summary>
    public double MegabytesPerSecond(long bytes) => bytes / (Nanoseconds * 1e-9) / 1e6;

    /// <summary>The last line of <paramref name="text"/> with <paramref name="marker"/> and a result after it; null if none has.</summary>
    public static SplitIoLine? Find(string text, string marker)
    {
        SplitIoLine? found = null;
        foreach (Match m in Result().Matches(text))
        {
            if (m.Groups["marker"].Value == marker)
            {
                found = new SplitIoLine(
                    long.Parse(m.Groups["bytes"].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups["ns"].Value, CultureInfo.InvariantCulture));
            }
        }

        return found;
    }

    /// <summary>A result on its own (the host's runs of splitio print just the line).</summary>
    public static SplitIoLine? Parse(string text) => Find("- " + text.Trim(), "-");

    [GeneratedRegex(@"(?<marker>\S+) (?:listening\s+)?bytes=(?<bytes>\d+) ns=(?<ns>\d+)")]
    private static partial Regex Result();
}
