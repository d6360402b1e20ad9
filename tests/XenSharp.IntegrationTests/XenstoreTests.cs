using XenSharp.Backends.Xenstore;
using XenSharp.IntegrationTests.Support;
using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>
/// The xenstore guest: a domain talking to the in-process xenstored over its store ring and event channel, next to one
/// that corrupts its ring (which loses only its own connection); the store is left without either domain's nodes.
/// </summary>
public class XenstoreTests
{
    [KvmFact]
    public async Task Xenstore_GuestsTalkToTheStoreOverTheirRingsAndAHostileRingHarmsNoOneElse()
    {
        using var host = new KvmHost();
        ulong free = host.Hypervisor.Pool.FreeFrames;
        var store = new XenStore(host.Hypervisor.Log);
        using XsClient dom0 = store.Connect(0);
        dom0.Watch("@releaseDomain", "released");
        dom0.Watch("@introduceDomain", "introduced");
        dom0.TakeEvents(); // the watches' first events

        IReadOnlyList<DomainOutcome> outcomes = await host.RunAsync(
            [Guests.Config("xs-hostile", "xenstore", "hostile-ring"), Guests.Config("xenstore", "xenstore")], Limits.Generous, store: store);

        DomainOutcome good = Assert.Single(outcomes, o => o.Name == "xenstore");
        string[] lines = Guests.Lines(good.Transcript);
        Assert.DoesNotContain(lines, l => l.StartsWith("[FAIL]", StringComparison.Ordinal));
        Assert.Contains("[PASS] name: xenstore", lines);
        Assert.Contains(lines, l => l.StartsWith("[PASS] the watch fires at once: data/w tok", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("[PASS] a conflicting write makes the commit EAGAIN", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("[PASS] read /local/domain/0/name: EACCES", StringComparison.Ordinal));
        Assert.Equal(Guests.Success, lines[^1]);
        Assert.Equal(DomainOutcome.Poweroff, good.ExitCode);

        DomainOutcome hostile = Assert.Single(outcomes, o => o.Name == "xs-hostile");
        string[] hostileLines = Guests.Lines(hostile.Transcript);
        Assert.DoesNotContain(hostileLines, l => l.StartsWith("[FAIL]", StringComparison.Ordinal));
        Assert.Contains(hostileLines, l => l.StartsWith("[PASS] req_prod beyond the ring", StringComparison.Ordinal));
        Assert.Equal(Guests.Success, hostileLines[^1]);
        Assert.Contains("xenstore: ring indexes out of range; connection closed", host.Log);

        // Both were introduced and released; their nodes are gone, domain 0's remain.
        IReadOnlyList<(string Path, string Token)> events = dom0.TakeEvents();
        Assert.Equal(2, events.Count(e => e.Token == "introduced" && e.Path == "@introduceDomain"));
        Assert.Equal(2, events.Count(e => e.Token == "released" && e.Path == "@releaseDomain"));
        Assert.Equal(["0"], dom0.Directory("/local/domain")!);
        Assert.Empty(dom0.Directory("/vm")!);
        Assert.Equal("Domain-0", dom0.Read("/local/domain/0/name"));
        Assert.Empty(host.Hypervisor.Domains);
        Assert.Equal(free, host.Hypervisor.Pool.FreeFrames);
    }
}
