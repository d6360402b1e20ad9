using System.Diagnostics;

namespace XenSharp.IntegrationTests.Support;

/// <summary>
/// A `dotnet xensharp.dll ...` child process that runs for as long as the test needs it: the test types to its
/// standard input and waits for its exit when it is done with it, the limit counted from then. Dispose kills it
/// (and its children) if it is still running, so a failing test leaves nothing behind.
/// </summary>
public sealed class CliRun : IDisposable
{
    private readonly Process _process;
    private readonly LockedStringWriter _stdoutSoFar = new();
    private readonly LockedStringWriter _stderrSoFar = new();
    private readonly Task<string> _stdout;
    private readonly Task<string> _stderr;

    /// <summary>
    /// A directory to copy each child's output to as it comes (xensharp-PID.stdout, .stderr), for watching a long run,
    /// e.g. a Linux guest's in the hardware lane, from outside.
    /// </summary>
    public const string TeeVariable = "XENSHARP_TEST_TEE";

    internal CliRun(Process process, string commandLine)
    {
        _process = process;
        CommandLine = commandLine;
        string? tee = Environment.GetEnvironmentVariable(TeeVariable);
        _stdout = PumpAsync(process.StandardOutput, _stdoutSoFar, tee is null ? null : Path.Combine(tee, $"xensharp-{process.Id}.stdout"));
        _stderr = PumpAsync(process.StandardError, _stderrSoFar, tee is null ? null : Path.Combine(tee, $"xensharp-{process.Id}.stderr"));
    }

    /// <summary>The arguments after xensharp.dll, for messages.</summary>
    public string CommandLine { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>What the child has written to its standard output so far (a test that waits for a prompt polls it).</summary>
    public string StdoutSoFar => _stdoutSoFar.Text;

    /// <summary>What the child has written to its standard error so far (the hypervisor's log: a domain's verdict).</summary>
    public string StderrSoFar => _stderrSoFar.Text;

    public int ProcessId => _process.Id;

    /// <summary>Types <paramref name="text"/> to the child's standard input.</summary>
    public async Task TypeAsync(string text)
    {
        await _process.StandardInput.WriteAsync(text);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Closes the child's standard input (its end of input).</summary>
    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Waits for the child to exit, at most <paramref name="limit"/> from now; past it, kills it and throws with what it printed.</summary>
    public async Task<CliResult> WaitAsync(TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            throw new TimeoutException($"xensharp {CommandLine} did not exit within {Limits.Describe(limit)}\n"
                + $"--- stdout\n{await _stdout}--- stderr\n{await _stderr}");
        }

        return new CliResult(_process.ExitCode, await _stdout, await _stderr);
    }

    private static async Task<string> PumpAsync(StreamReader reader, LockedStringWriter copy, string? teePath)
    {
        var buffer = new char[4096];
        int n;
        using StreamWriter? tee = teePath is null ? null : new StreamWriter(teePath) { AutoFlush = true };
        while ((n = await reader.ReadAsync(buffer)) > 0)
        {
            copy.Write(buffer, 0, n);
            tee?.Write(buffer, 0, n);
        }

        return copy.Text;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
            // It exited in between.
        }

        _process.Dispose();
    }
}
