using System.IO.Pipes;
using System.Text;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.IntegrationTests.Support;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>
/// Domain.Pause on a running guest (the pausable guest counts in a loop that never leaves the VM on its own): every
/// vCPU comes out of KVM_RUN and parks, its context reads back (rip in the guest kernel) and sets back unchanged, and
/// after Unpause the guest carries on to its normal end. With two vCPUs the blocked one stays blocked through the
/// pause and wakes afterwards. The guest waits for a typed line, so nothing here races a clock; limits are verdicts.
/// </summary>
public class PauseTests
{
    private const ulong GuestImageStart = 0x100000; // guests/lib/link.ld
    private const ulong GuestImageEnd = 0x400000;

    [KvmFact]
    public Task PauseReadContextUnpause_TheGuestCarriesOn() => PauseRun(vcpus: 1);

    [KvmFact]
    public Task PauseWithOneVcpuBlocked_ItStaysBlockedAndWakesAfter() => PauseRun(vcpus: 2);

    private static async Task PauseRun(int vcpus)
    {
        using var host = new KvmHost();
        using var typed = new AnonymousPipeServerStream(PipeDirection.Out);
        using var input = new AnonymousPipeClientStream(PipeDirection.In, typed.ClientSafePipeHandle);
        try
        {
            await PauseRunWith(host, typed, input, vcpus);
        }
        finally
        {
            // The writer goes first: the console's input thread then reads EOF and lets go of the reader, whose close
            // would otherwise wait for that read forever.
            typed.Dispose();
        }
    }

    private static async Task PauseRunWith(KvmHost host, AnonymousPipeServerStream typed, AnonymousPipeClientStream input, int vcpus)
    {
        DomainConfig config = Guests.Config("pausable", "pausable") with { Vcpus = vcpus };
        var session = new RunSession(host.Hypervisor, [config], host.Console, new RunOptions { Input = input });
        Task<IReadOnlyList<DomainOutcome>> run = session.RunAsync();

        string ready = vcpus == 2 ? "[PASS] vCPU 1 blocked in SCHEDOP_poll" : "pausable: counting";
        await Limits.Until(() => host.Console.Text.Contains(ready, StringComparison.Ordinal) || run.IsCompleted, Limits.Generous, "the guest counting");
        Assert.False(run.IsCompleted, $"the guest ended early:\n{host.Console.Text}\n{host.Log}");
        Domain d = Assert.Single(host.Hypervisor.Domains);
        Vcpu v0 = d.Vcpus[0];
        if (vcpus == 2)
        {
            await Limits.Until(() => d.Vcpus[1].Lifecycle.State == VcpuState.Blocked, Limits.Generous, "vCPU 1 blocking");
        }

        await Limits.Within(Task.Run(() => host.Hypervisor.Control.Pause(d.Id)), Limits.Generous, "DomainControl.Pause");
        await Limits.Within(Task.Run(d.Pause), Limits.Generous, "a nested Domain.Pause"); // nests
        Assert.Equal(2, d.PauseCount);
        Assert.Equal(VcpuState.Paused, v0.Lifecycle.State);
        Assert.True(v0.Lifecycle.IsQuiescent);
        Assert.Equal(RunstateLayout.Offline, v0.Runstate.State); // Xen accounts a paused vCPU's time as offline
        if (vcpus == 2)
        {
            Assert.Equal(VcpuState.Blocked, d.Vcpus[1].Lifecycle.State);
            Assert.Equal(RunstateLayout.Blocked, d.Vcpus[1].Runstate.State);
        }

        VcpuContext ctx = v0.GetContext();
        Assert.Equal(ctx, host.Hypervisor.Control.GetVcpuContext(d.Id, 0)); // Domain 0's view, paused around (nests)
        Assert.Equal(2, d.PauseCount);
        Assert.True(ctx.Rip >= GuestImageStart && ctx.Rip < GuestImageEnd, $"rip 0x{ctx.Rip:x} outside the guest kernel");
        Assert.True(ctx.InKernel);
        Assert.Equal(d.Vcpus[0].KernelL4.Value, ctx.KernelCr3Frame);
        Assert.Equal(0, v0.SetContext(ctx));
        Assert.Equal(ctx, v0.GetContext());
        Assert.Equal(-XenErrno.EINVAL, v0.SetContext(ctx with { Rip = 0x0000800000000000 })); // non-canonical
        Assert.Equal(ctx, v0.GetContext());

        // A line typed while paused waits in the ring: the guest sees it only once it runs again.
        typed.Write(Encoding.ASCII.GetBytes("go\n"));
        typed.Flush();
        Assert.True(d.Unpause());
        Assert.Equal(VcpuState.Paused, v0.Lifecycle.State); // one pause left
        Assert.True(d.Unpause());
        Assert.False(d.Unpause());

        DomainOutcome o = Assert.Single(await Limits.Within(run, Limits.Generous, "the run after unpause"));
        string[] lines = Guests.Lines(o.Transcript);
        Assert.True(lines.Length > 0 && lines[^1] == Guests.Success, $"exit {o.ExitCode}; transcript:\n{o.Transcript}\nlog:\n{host.Log}");
        Assert.Contains(lines, l => l.StartsWith("pausable: got a line after ", StringComparison.Ordinal));
        if (vcpus == 2)
        {
            Assert.Contains("[PASS] vCPU 1 woke", lines);
        }

        Assert.Equal(DomainOutcome.Poweroff, o.ExitCode);
    }
}
