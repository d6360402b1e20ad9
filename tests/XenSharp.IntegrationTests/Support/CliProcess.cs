using System.Diagnostics;

namespace XenSharp.IntegrationTests.Support;

/// <summary>The result of one `dotnet xensharp.dll ...` process.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StderrLines => Guests.Lines(Stderr);

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
}

/// <summary>Runs the real CLI as a child process (the build output of XenSharp.Cli), with a time limit.</summary>
public static class CliProcess
{
    /// <summary>Variables the tests control: a developer's own settings must not leak into the child.</summary>
    private static readonly string[] Scrubbed = ["XENSHARP_POOL_MB", "XENSHARP_KVM_DEVICE"];

    /// <param name="stdin">Typed to the child's standard input, which is then closed (null: closed at once).</param>
    /// <param name="started">Told the child's process id once it runs (to signal it).</param>
    public static async Task<CliResult> RunAsync(
        IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? limit = null,
        string? stdin = null,
        Action<int>? started = null)
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

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {psi.FileName}");
        started?.Invoke(process.Id);
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        TimeSpan max = limit ?? Limits.Generous;
        using var cts = new CancellationTokenSource(max);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"xensharp {string.Join(' ', psi.ArgumentList.Skip(1))} did not exit within {max.TotalSeconds:0.#} s\n"
                + $"--- stdout\n{await stdout}--- stderr\n{await stderr}");
        }

        return new CliResult(process.ExitCode, await stdout, await stderr);
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
