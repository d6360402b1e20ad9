using System.Diagnostics;

namespace XenSharp.IntegrationTests.Support;

/// <summary>
/// Debian's xenstore-utils (xenstore-read, -write, -ls, ...), run as child processes against a store socket: the
/// tools' library (libxenstore) takes the socket from XENSTORED_PATH. `./run-tests` installs the package with apt-get
/// where it is missing and it runs as root.
/// </summary>
public static class XenstoreUtils
{
    public const string SkipReason = "needs Debian's xenstore-utils (xenstore-read, xenstore-ls, ...), which ./run-tests installs with apt-get when run as root";

    /// <summary>Whether every tool the tests use is on PATH.</summary>
    public static bool Present => new[] { "ls", "read", "write", "rm", "list", "exists", "chmod", "watch" }.All(t => Find("xenstore-" + t) is not null);

    /// <summary>Starts <paramref name="tool"/> (e.g. "xenstore-watch") on the store at <paramref name="socket"/> and leaves it running.</summary>
    public static CliRun Start(string socket, string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(Find(tool) ?? throw new FileNotFoundException($"{tool} is not on PATH"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["XENSTORED_PATH"] = socket;
        Process process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {tool}");
        return new CliRun(process, $"(not xensharp) {tool} {string.Join(' ', args)}");
    }

    /// <summary>Runs <paramref name="tool"/> to its exit (at most <see cref="Limits.Generous"/>), its standard input closed.</summary>
    public static async Task<CliResult> RunAsync(string socket, string tool, params string[] args)
    {
        using CliRun run = Start(socket, tool, args);
        run.CloseInput();
        return await run.WaitAsync(Limits.Generous);
    }

    private static string? Find(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);
}
