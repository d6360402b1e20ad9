using XenSharp.IntegrationTests.Support;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>
/// `xensharp run --emulate`: the same CLI inside the helper machine (kvm_amd inside QEMU's emulated CPU), its console
/// attached both ways through the helper. About a minute (booting the helper ~10-30 s, .NET and the guest inside
/// ~15 s on a quiet machine; more when the machine is busy), so there is one test, and it runs only where it must.
/// </summary>
public sealed class EmulatedRunTests
{
    /// <summary>Booting the helper machine and starting .NET on an emulated CPU: minutes on a loaded machine.</summary>
    private static readonly TimeSpan HelperLimit = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Typed input reaches the guest inside, its console comes back on stdout, the hypervisor's lines on stderr, the
    /// exit status is the inner run's; the config lives under /tmp, which the helper carries over its own tmpfs.
    /// </summary>
    [EmulatedFact]
    public async Task Emulate_RunsTheGuestInTheHelperMachine_ConsoleBothWays()
    {
        using var dir = new TempDir();
        string cfg = dir.Config("conin.cfg", RepoPaths.Guest("conin"));

        CliResult r = await CliProcess.RunAsync(["run", "--emulate", cfg, "--timeout", "120", "--pool-mb", "256"], limit: HelperLimit, stdin: "hello helper\n");

        Assert.True(r.ExitCode == 0, r.ToString());
        string[] lines = Guests.Lines(r.Stdout);
        Assert.Contains("[PASS] conin: got 'hello helper'", lines);
        Assert.Equal(Guests.Success, lines[^1]);
        Assert.DoesNotContain(lines, l => l.StartsWith("(XEN)", StringComparison.Ordinal) || l.StartsWith("xensharp:", StringComparison.Ordinal));
        Assert.Equal("xensharp: --emulate: running on KVM inside QEMU's emulated CPU (10-100x slower)", r.StderrLines[0]);
        Assert.Contains(r.StderrLines, l => l.StartsWith("xensharp: helper machine up after ", StringComparison.Ordinal) && l.EndsWith("(KVM inside: kvm_amd)", StringComparison.Ordinal));
        Assert.Contains("(XEN) conin: powered off", r.StderrLines);
    }
}
