using System.Diagnostics;
using XenSharp.IntegrationTests.Support;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>
/// Debian's stock Linux as a PV domU (examples/linux.cfg, prepared by tools/linux-guest): one boot, several checks, as
/// its cost (minutes in the hardware lane) allows only one.
/// </summary>
[Collection(Collection)]
public sealed class LinuxGuestTests
{
    /// <summary>The Linux tests run one after another: each prepares out/linux and boots minutes of Linux.</summary>
    public const string Collection = "LinuxGuest";

    private const string Prompt = "linux-guest:/root# ";

    /// <summary>
    /// The shell prompt comes on hvc0, `uname -a` typed to the console is answered by the guest's kernel, and `poweroff`
    /// ends the domain with exit status 0; `--exit-stats` logs the domain's exits at its end.
    /// </summary>
    [KvmFact]
    public async Task Linux_BootsToAShellThatAnswersAndPowersOff()
    {
        await PrepareAsync();
        string cfg = Path.Combine(RepoPaths.Root, "examples", "linux.cfg");
        using CliRun run = CliProcess.Start(["run", cfg, "--pool-mb", "1024", "--exit-stats"]);

        await Limits.Until(() => run.StdoutSoFar.Contains(Prompt, StringComparison.Ordinal) || run.HasExited, Limits.LinuxBoot, "Linux's shell prompt");
        Assert.False(run.HasExited, $"xensharp exited before the prompt:\n{run.StdoutSoFar}");
        int mark = run.StdoutSoFar.Length;
        await run.TypeAsync("uname -a\n");
        await Limits.Until(() => run.StdoutSoFar[mark..].Contains(Prompt, StringComparison.Ordinal) || run.HasExited, Limits.Generous, "the answer to uname -a");
        await run.TypeAsync("poweroff\n");
        CliResult r = await run.WaitAsync(Limits.Generous);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("linux-guest: /init done after ", r.Stdout);
        Assert.Contains(Guests.Lines(r.Stdout[mark..]), l => l.StartsWith("Linux ", StringComparison.Ordinal) && l.Contains("-amd64 #1 SMP", StringComparison.Ordinal) && l.EndsWith("x86_64 GNU/Linux", StringComparison.Ordinal));
        Assert.Contains("(XEN) linux: powered off", r.StderrLines);
        Assert.Contains(r.StderrLines, l => l.StartsWith("(XEN) (d1) exits: ", StringComparison.Ordinal) && l.Contains("; hypercalls ", StringComparison.Ordinal));
    }

    /// <summary>tools/linux-guest, as `./xensharp run` runs it: fetches (once) and builds out/linux.</summary>
    internal static async Task PrepareAsync()
    {
        var psi = new ProcessStartInfo("bash", [Path.Combine(RepoPaths.Root, "tools", "linux-guest")])
        {
            WorkingDirectory = RepoPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException("could not start tools/linux-guest");
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        await Limits.Within(p.WaitForExitAsync(), Limits.LinuxPrepare, "tools/linux-guest");
        Assert.True(p.ExitCode == 0, $"tools/linux-guest exited with {p.ExitCode}\n{await stdout}{await stderr}");
        Assert.True(File.Exists(Path.Combine(RepoPaths.Root, "out", "linux", "initramfs.cpio.gz")));
    }
}
