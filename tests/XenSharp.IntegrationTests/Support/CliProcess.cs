using System.Diagnostics;

namespace XenSharp.IntegrationTests.Support;

/// <summary>The result of one `dotnet xensharp.dll ...` process.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StderrLines => Guests.Lines(Stderr);

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
}

/// <summary>Runs the real CLI as a child process (the build output of XenSharp.Cli), with a time limit (<see cref="Limits"/>).</summary>
public static class CliProcess
{
    /// <summary>Variables the tests control: a developer's own settings must not leak into the child.</summary>
    private static readonly string[] Scrubbed = ["XENSHARP_POOL_MB", "XENSHARP_KVM_DEVICE"];

    /// <summary>
    /// Runs the CLI to its exit: <paramref name="stdin"/> is typed to its standard input, which is then closed (null:
    /// closed at once). The limit (default <see cref="Limits.Generous"/>) is counted beyond the run's own --timeout,
    /// so that timeout, which ends the run with exit status 124 and a report, comes first.
    /// </summary>
    /// <param name="started">Told the child's process id once it runs (to signal it).</param>
    public static async Task<CliResult> RunAsync(
        IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? limit = null,
        string? stdin = null,
        Action<int>? started = null)
    {
        string[] arguments = args.ToArray();
        using CliRun run = Start(arguments, environment);
        started?.Invoke(run.ProcessId);
        if (stdin is not null)
        {
            await run.TypeAsync(stdin);
        }

        run.CloseInput();
        return await run.WaitAsync(RunTimeout(arguments) + (limit ?? Limits.Generous));
    }

    /// <summary>Starts the CLI and leaves it running: the caller types to it, waits for it, and disposes it.</summary>
    public static CliRun Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(DotnetHost)
        {
            WorkingDirectory = RepoPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(RepoPaths.CliDll);
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (string name in Scrubbed)
        {
            psi.Environment.Remove(name);
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }

        Process process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {psi.FileName}");
        return new CliRun(process, string.Join(' ', psi.ArgumentList.Skip(1)));
    }

    /// <summary>The run's own --timeout (zero without one).</summary>
    private static TimeSpan RunTimeout(string[] args)
    {
        int i = Array.IndexOf(args, "--timeout");
        // Only a timeout the CLI accepts counts: the usage-error tests pass NaN, negative and huge ones.
        return i >= 0 && i + 1 < args.Length && double.TryParse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture, out double s)
            && double.IsFinite(s) && s > 0 && s < TimeSpan.FromDays(1).TotalSeconds
            ? TimeSpan.FromSeconds(s)
            : TimeSpan.Zero;
    }

    /// <summary>Sends <paramref name="signal"/> (e.g. "INT", "TERM") to a process, as kill(1) does.</summary>
    public static void Signal(int pid, string signal)
    {
        var psi = new ProcessStartInfo("kill", ["-s", signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false };
        using var kill = Process.Start(psi) ?? throw new InvalidOperationException("could not start kill");
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -s {signal} {pid} exited with {kill.ExitCode}");
        }
    }

    /// <summary>The dotnet host: the one `dotnet test` runs under, else the one on PATH.</summary>
    private static string DotnetHost
    {
        get
        {
            if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
            {
                return host;
            }

            if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet")
            {
                return self;
            }

            return "dotnet";
        }
    }
}
