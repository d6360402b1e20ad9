using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.IntegrationTests.Support;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Image;
using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>Many domains built, run and destroyed in one hypervisor: every frame comes back.</summary>
public sealed class DomainLifecycleTests
{
    [KvmFact]
    public async Task CreateDestroyLoops_ReturnEveryFrame()
    {
        using var host = new KvmHost();
        MachinePool pool = host.Hypervisor.Pool;
        ulong freeBefore = pool.FreeFrames;
        ulong xenBefore = pool.Frames.CountOwnedBy(FrameOwner.Xen);
        ulong unownedBefore = pool.Frames.CountOwnedBy(FrameOwner.Free);
        Assert.Equal(freeBefore, unownedBefore);
        var ids = new List<ushort>();
        var hello = new BuildRequest("hello", KernelImage.Load(RepoPaths.Guest("hello")), Guests.MemoryMiB, 1, "");
        var spin = new BuildRequest("spin", KernelImage.Load(RepoPaths.Guest("hostile")), Guests.MemoryMiB, 1, "hostile=spin");

        // Build, start, wait for the poweroff, destroy.
        for (int i = 0; i < 20; i++)
        {
            var console = new TerminalConsole(TextWriter.Null, null, new object());
            Domain d = host.Hypervisor.Control.Get(PvDomainBuilder.Build(host.Hypervisor, hello, console));
            ids.Add(d.Id);
            try
            {
                host.Hypervisor.Start(d);
                DomainState ended = await Limits.Within(d.Ended, Limits.Generous, $"hello run {i}");
                Assert.Equal(DomainState.Shutdown, ended);
                Assert.Equal(ShutdownReason.Poweroff, d.ShutdownReason);
                Assert.EndsWith(Guests.Success + "\n", console.Transcript);
            }
            finally
            {
                await DestroyAsync(host, d);
            }
        }

        // Build and destroy without starting.
        for (int i = 0; i < 10; i++)
        {
            Domain d = host.Hypervisor.Control.Get(PvDomainBuilder.Build(host.Hypervisor, hello, new TerminalConsole(TextWriter.Null, null, new object())));
            ids.Add(d.Id);
            Assert.True(pool.Frames.CountOwnedBy(d.Id) > 0);
            await DestroyAsync(host, d);
            Assert.Equal(DomainState.Destroyed, d.State);
        }

        // Start a guest that spins for ever and destroy it while it runs.
        for (int i = 0; i < 5; i++)
        {
            var console = new TerminalConsole(TextWriter.Null, null, new object());
            Domain d = host.Hypervisor.Control.Get(PvDomainBuilder.Build(host.Hypervisor, spin, console));
            ids.Add(d.Id);
            try
            {
                host.Hypervisor.Start(d);
                await Limits.Until(() => console.Transcript.Contains("hostile: spin"), Limits.Generous, $"spin guest {i} printing its banner");
                Assert.Equal(DomainState.Running, d.State);
            }
            finally
            {
                await DestroyAsync(host, d);
            }

            Assert.Equal(DomainState.Destroyed, d.State);
            Assert.Equal(DomainState.Destroyed, await Limits.Within(d.Ended, Limits.Generous, "Ended after destroy"));
        }

        Assert.Equal(35, ids.Distinct().Count());
        Assert.Empty(host.Hypervisor.Domains);
        Assert.Equal(freeBefore, pool.FreeFrames);
        Assert.Equal(xenBefore, pool.Frames.CountOwnedBy(FrameOwner.Xen));
        Assert.Equal(unownedBefore, pool.Frames.CountOwnedBy(FrameOwner.Free));
        Assert.All(ids, id => Assert.Equal(0UL, pool.Frames.CountOwnedBy(id)));
    }

    private static Task DestroyAsync(KvmHost host, Domain d) =>
        Limits.Within(Task.Run(() => host.Hypervisor.Destroy(d)), Limits.Generous, $"destroying {d}");
}
