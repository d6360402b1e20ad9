namespace XenSharp.Toolstack.Run;

/// <summary>
/// The last lines a domain printed, which the session logs when the domain crashes so that the reason (a guest's panic
/// message, say) stands next to the verdict even when the terminal was busy with other domains. Blank lines are
/// skipped; a last line without its newline counts.
/// </summary>
public static class ConsoleTail
{
    /// <summary>
    /// How many lines a crash shows: room for a Linux panic message and its call trace (56 lines from `Kernel panic` to
    /// the end for a sysrq crash of Debian's 6.1).
    /// </summary>
    public const int CrashLines = 60;

    public static IReadOnlyList<string> LastLines(string transcript, int count) =>
        transcript.Split('\n').Where(l => l.Trim().Length > 0).TakeLast(count).ToList();
}
