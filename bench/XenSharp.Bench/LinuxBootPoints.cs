using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.Bench;

/// <summary>
/// The points of a Linux boot that figure (f) times, read from a console transcript (XenSharp's or the xen-oracle's):
/// the kernel's <c>[    9.073307] Run /init as init process</c> (its printk clock), the initramfs's
/// <c>linux-guest: /init done after 9.64 s</c> (/proc/uptime; tools/linux-guest) and busybox's prompt
/// <c>linux-guest:/root# </c> (no newline after it).
/// </summary>
public static partial class LinuxBootPoints
{
    public const string RunInit = "Run /init as init process";

    /// <summary>The printk time of the kernel's "Run /init as init process", in seconds; null before it.</summary>
    public static double? KernelRunInit(string console) =>
        RunInitLine().Match(console) is { Success: true } m ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;

    /// <summary>The guest's uptime when its /init was done, in seconds; null before it.</summary>
    public static double? InitDone(string console) =>
        InitDoneLine().Match(console) is { Success: true } m ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;

    /// <summary>Where busybox's first prompt ends (the offset just past it), or -1 before it.</summary>
    public static int PromptEnd(string console) => PromptText().Match(console) is { Success: true } m ? m.Index + m.Length : -1;

    [GeneratedRegex(@"\[\s*(\d+\.\d+)\]\s*Run /init as init process")]
    private static partial Regex RunInitLine();

    [GeneratedRegex(@"linux-guest: /init done after (\d+(?:\.\d+)?) s")]
    private static partial Regex InitDoneLine();

    [GeneratedRegex(@"linux-guest:[/~][^\s#]*# ")]
    private static partial Regex PromptText();
}
