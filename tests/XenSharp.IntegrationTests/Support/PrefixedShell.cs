using System.Globalization;

namespace XenSharp.IntegrationTests.Support;

/// <summary>
/// A guest's shell on the first domain of a `xensharp run` with several domains, where the terminal shows whole lines,
/// each prefixed with "[NAME] " (so a prompt, which has no newline, never shows on its own). A command is typed with an
/// end marker after it, `echo "@@done $((1000+N))"`: its output "@@done 100N" differs from the typed text the tty echoes
/// back, so the end of each command is recognised without any timing.
/// </summary>
public sealed class PrefixedShell(CliRun run, string domain)
{
    private readonly string _prefix = $"[{domain}] ";
    private int _commands;

    /// <summary>The domain's lines so far, the prefix taken off.</summary>
    public IReadOnlyList<string> Lines =>
        Guests.Lines(run.StdoutSoFar).Where(l => l.StartsWith(_prefix, StringComparison.Ordinal)).Select(l => l[_prefix.Length..]).ToList();

    /// <summary>Waits until the domain has printed a line starting with <paramref name="start"/>.</summary>
    public Task WaitForLine(string start, TimeSpan limit, string what) =>
        Limits.Until(() => Lines.Any(l => l.StartsWith(start, StringComparison.Ordinal)) || run.HasExited, limit, what);

    /// <summary>
    /// Types <paramref name="command"/> and waits for its end marker; returns the lines the domain printed from the
    /// typed line (echoed after the prompt) up to the marker, which is left out.
    /// </summary>
    public async Task<IReadOnlyList<string>> Run(string command, TimeSpan limit)
    {
        int n = 1000 + ++_commands;
        string marker = $"@@done {n.ToString(CultureInfo.InvariantCulture)}";
        int before = Lines.Count;
        await run.TypeAsync($"{command}; echo \"@@done $((1000+{_commands.ToString(CultureInfo.InvariantCulture)}))\"\n");
        await Limits.Until(() => Lines.Skip(before).Contains(marker) || run.HasExited, limit, $"the end of `{command}`");
        List<string> lines = Lines.Skip(before).ToList();
        int end = lines.IndexOf(marker);
        if (end < 0)
        {
            throw new InvalidOperationException($"xensharp exited before `{command}` ended:\n{run.StdoutSoFar}\n--- stderr\n{run.StderrSoFar}");
        }

        return lines[..end];
    }
}
