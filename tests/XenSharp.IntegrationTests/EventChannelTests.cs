using XenSharp.IntegrationTests.Support;
using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>Event channels as a guest uses them on KVM: the FIFO ABI end to end, upcalls included.</summary>
public sealed class EventChannelTests
{
    /// <summary>
    /// The fifo guest switches to FIFO, binds loopback channels and checks its event words, queue heads, ready bits and
    /// the upcall's order (priorities, FIFO within a queue, mask and EVTCHNOP_unmask). The same guest passes on Xen 4.17
    /// (guests/README.md, "Running against real Xen").
    /// </summary>
    [KvmFact]
    public async Task Fifo_EventsArriveOnTheRightQueueThroughTheUpcall()
    {
        using var host = new KvmHost();
        ulong free = host.Hypervisor.Pool.FreeFrames;

        DomainOutcome o = Assert.Single(await host.RunAsync([Guests.Config("fifo", "fifo")], Limits.Generous));

        string[] lines = Guests.Lines(o.Transcript);
        Assert.True(lines.Length > 0 && lines[^1] == Guests.Success, $"exit {o.ExitCode}; transcript:\n{o.Transcript}\nlog:\n{host.Log}");
        Assert.DoesNotContain(lines, l => l.StartsWith("[FAIL]", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("[PASS] init_control vCPU 0: 0, link_bits 17", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("[PASS] the upcall arrives with port", StringComparison.Ordinal));
        Assert.Contains("[PASS] priority 2 is consumed before priority 7 (2 events)", lines);
        Assert.Contains("[PASS] one upcall, events in raise order", lines);
        Assert.Contains("[PASS] and the upcall delivers it (1 events)", lines);
        Assert.Equal(Guests.Success, lines[^1]);
        Assert.Equal(DomainOutcome.Poweroff, o.ExitCode);
        Assert.Empty(host.Hypervisor.Domains);
        Assert.Equal(free, host.Hypervisor.Pool.FreeFrames);
    }
}
