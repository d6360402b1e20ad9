using XenSharp.IntegrationTests.Support;
using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>Grant mappings on the real machine: the PTEs the hypervisor writes must take effect, and go, at once.</summary>
public class GrantTests
{
    [KvmFact]
    public async Task Grants_MapsItsOwnGrantAndTheAddressFaultsAfterTheUnmap()
    {
        using var host = new KvmHost();
        ulong free = host.Hypervisor.Pool.FreeFrames;

        DomainOutcome o = Assert.Single(await host.RunAsync([Guests.Config("grants", "grants")], Limits.Generous));

        string[] lines = Guests.Lines(o.Transcript);
        Assert.DoesNotContain(lines, l => l.StartsWith("[FAIL]", StringComparison.Ordinal));
        Assert.Contains("[PASS] a write through the mapping is seen through the original address", lines);
        Assert.Contains("[PASS] the address faults after the unmap", lines);
        Assert.Contains("[PASS] then the frame can be pinned: no reference was lost or kept", lines);
        Assert.Contains("[PASS] map with writable map of a page table: status -1 (want -1)", lines);
        Assert.Equal(Guests.Success, lines[^1]);
        Assert.Equal(DomainOutcome.Poweroff, o.ExitCode);
        Assert.Equal(free, host.Hypervisor.Pool.FreeFrames);
    }
}
