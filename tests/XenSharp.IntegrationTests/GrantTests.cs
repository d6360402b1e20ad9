using XenSharp.IntegrationTests.Support;
using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>
/// Grant mappings on the real machine: the PTEs the hypervisor writes must take effect, and go, at once, and another
/// domain's frame must be reachable in the mapper's machine exactly while it is mapped.
/// </summary>
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

    /// <summary>
    /// Two domains share a page through a grant: the mapper's machine gets the granter's frame while it is mapped. With
    /// <paramref name="orphan"/> the granter powers off (and is destroyed) while the page is mapped: the mapper keeps
    /// the page until its unmap, which then frees it.
    /// </summary>
    [KvmTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task GrantPeer_MapsAnotherDomainsPage(bool orphan)
    {
        using var host = new KvmHost();
        ulong free = host.Hypervisor.Pool.FreeFrames;
        string mode = orphan ? " orphan" : "";

        // The first domain built is d1, the second d2 (a fresh hypervisor).
        IReadOnlyList<DomainOutcome> outcomes = await host.RunAsync(
            [Guests.Config("granter", "grantpeer", "role=granter peer=2" + mode), Guests.Config("mapper", "grantpeer", "role=mapper peer=1" + mode)],
            Limits.Generous);

        foreach (DomainOutcome o in outcomes)
        {
            string[] lines = Guests.Lines(o.Transcript);
            Assert.DoesNotContain(lines, l => l.StartsWith("[FAIL]", StringComparison.Ordinal) || l.StartsWith("[ERROR]", StringComparison.Ordinal));
            Assert.Equal(Guests.Success, lines[^1]);
            Assert.Equal(DomainOutcome.Poweroff, o.ExitCode);
        }

        string[] mapper = Guests.Lines(Assert.Single(outcomes, o => o.Name == "mapper").Transcript);
        string[] granter = Guests.Lines(Assert.Single(outcomes, o => o.Name == "granter").Transcript);
        Assert.Contains("[PASS] the granter's page shows through the mapping (0x5a5a5a00)", mapper);
        Assert.Contains("[PASS] a page another domain maps writable cannot become a page table", granter);
        Assert.Contains(mapper, l => l.StartsWith("[PASS]", StringComparison.Ordinal) && l.EndsWith("fault after the unmap", StringComparison.Ordinal)
            || l == "[PASS] the address faults after the unmap");
        Assert.Contains(orphan ? "[PASS] its page stays mapped and intact" : "[PASS] after the unmap the page can be pinned: no reference was kept", orphan ? mapper : granter);
        Assert.Equal(0UL, host.Hypervisor.Pool.OrphanedFrames);
        Assert.Equal(free, host.Hypervisor.Pool.FreeFrames);
    }
}
