using XenSharp.IntegrationTests.Support;
using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>
/// The time guest: system time from the TSC, the wall clock, timers delivered to blocked and running vCPUs, the
/// periodic timer, SCHEDOP_poll, runstate, VCPUOP_register_vcpu_info and a second vCPU brought up and down.
/// </summary>
public class TimeAndVcpuTests
{
    [KvmFact]
    public async Task Time_TimersRunstateAndSecondaryVcpuBehaveAsXens()
    {
        using var host = new KvmHost();
        ulong free = host.Hypervisor.Pool.FreeFrames;

        DomainOutcome o = Assert.Single(await host.RunAsync([Guests.Config("time", "time") with { Vcpus = 3 }], Limits.Generous));

        string[] lines = Guests.Lines(o.Transcript);
        Assert.True(lines.Length > 0 && lines[^1] == Guests.Success, $"exit {o.ExitCode}; transcript:\n{o.Transcript}\nlog:\n{host.Log}");
        Assert.DoesNotContain(lines, l => l.StartsWith("[FAIL]", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("[PASS] SCHEDOP_block woke by VIRQ_TIMER", StringComparison.Ordinal));
        Assert.Contains("[PASS] set_timer_op interrupts a spinning vCPU at its deadline", lines);
        Assert.Contains(lines, l => l.StartsWith("[PASS] VCPUOP_up again: vCPU 1 resumes after its VCPUOP_down", StringComparison.Ordinal));
        Assert.Equal(Guests.Success, lines[^1]);
        Assert.Equal(DomainOutcome.Poweroff, o.ExitCode);
        Assert.Equal(free, host.Hypervisor.Pool.FreeFrames);
    }
}
