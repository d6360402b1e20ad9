using XenSharp.IntegrationTests.Support;
using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>
/// Kicks (the MSI that interrupts a running vCPU) by the hundred at a vCPU that keeps exiting to the host: the path on
/// which QEMU's nested SVM delivered a kick a second time in ring 0 and the stub reported a fault
/// (docs/architecture.md, "The stub"). It is a race, so the guest runs for seconds; the hardware lane is where it
/// could fail.
/// </summary>
public class KickTests
{
    [KvmFact]
    public async Task KickStorm_ARunningVcpuSurvivesHundredsOfKicksBetweenHypercalls()
    {
        using var host = new KvmHost();
        DomainOutcome o = Assert.Single(await host.RunAsync(
            [Guests.Config("kickstorm", "kickstorm", "seconds=10") with { Vcpus = 2 }], Limits.Generous));

        string[] lines = Guests.Lines(o.Transcript);
        Assert.True(lines.Length > 0 && lines[^1] == Guests.Success, $"exit {o.ExitCode}; transcript:\n{o.Transcript}\nlog:\n{host.Log}");
        Assert.DoesNotContain("fault inside the hypervisor stub", host.Log, StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("[PASS] IPIs taken while running:", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("[PASS] timer ticks taken:", StringComparison.Ordinal));
        Assert.Equal(DomainOutcome.Poweroff, o.ExitCode);
    }
}
