using XenSharp.IntegrationTests.Support;
using XenSharp.Toolstack.Run;
using Xunit;
using Xunit.Abstractions;

namespace XenSharp.IntegrationTests;

/// <summary>The guests that exercise the paravirtualised CPU and MMU: user processes, privileged-op emulation.</summary>
public class PvCpuAndMmuTests(ITestOutputHelper output)
{
    [KvmFact]
    public async Task Usermode_RunsUserProcessesInTheirOwnAddressSpaces()
    {
        using var host = new KvmHost();
        ulong free = host.Hypervisor.Pool.FreeFrames;

        DomainOutcome o = Assert.Single(await host.RunAsync([Guests.Config("usermode", "usermode")], Limits.Generous));

        string[] lines = Guests.Lines(o.Transcript);
        Assert.DoesNotContain(lines, l => l.StartsWith("[FAIL]", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("a changed present mapping takes effect", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("tore down 200 user address spaces", StringComparison.Ordinal));
        Assert.Equal(Guests.Success, lines[^1]);
        Assert.Equal(DomainOutcome.Poweroff, o.ExitCode);
        Assert.Equal(free, host.Hypervisor.Pool.FreeFrames);
    }

    /// <summary>
    /// Behaves differently on the two kinds of KVM: kvm_pvm ignores CR0.TS (tools/probes/cr0-ts.c), so there the FPU
    /// instruction runs and no #NM arrives; on hardware KVM the guest must see exactly one #NM.
    /// </summary>
    [KvmFact]
    public async Task Fpu_TaskswitchRaisesNmOnHardwareKvm_MachineLimitOnPvm()
    {
        using var host = new KvmHost();

        DomainOutcome o = Assert.Single(await host.RunAsync([Guests.Config("fpu", "fpu")], Limits.Generous));

        string[] lines = Guests.Lines(o.Transcript);
        Assert.Equal(DomainOutcome.Poweroff, o.ExitCode);
        if (XenSharp.Kvm.KvmSystem.DetectKind() == XenSharp.Kvm.KvmKind.Pvm)
        {
            Assert.Contains("[FAIL] fpu_taskswitch(1): the next FPU instruction raised #NM (0)", lines);
        }
        else
        {
            Assert.DoesNotContain(lines, l => l.StartsWith("[FAIL]", StringComparison.Ordinal));
            Assert.Equal(Guests.Success, lines[^1]);
        }
    }

    [KvmFact]
    public async Task Privops_EmulatedPrivilegedInstructionsBehaveAsXens()
    {
        using var host = new KvmHost();
        host.Hypervisor.CountExits = true;

        DomainOutcome o = Assert.Single(await host.RunAsync([Guests.Config("privops", "privops")], Limits.Generous));

        string[] lines = Guests.Lines(o.Transcript);
        Assert.DoesNotContain(lines, l => l.StartsWith("[FAIL]", StringComparison.Ordinal));
        Assert.Equal(Guests.Success, lines[^1]);
        Assert.Equal(DomainOutcome.Poweroff, o.ExitCode);

        // Its 12 in/out instructions on ports without a device are answered by the stub in the VM (Stub/StubPortIo);
        // only the RTC index's two (port 0x70, which latches) reach the host.
        string exits = Assert.Single(Guests.Lines(host.Log), l => l.Contains(") exits: ", StringComparison.Ordinal));
        Assert.Contains("; ports 2 (0x70 2); port I/O answered in the VM 12;", exits);

        // Its set_segment_base calls with FS, GS_KERNEL and GS_USER and a canonical base, and GS_USER_SEL with NUL, are
        // answered in the VM too (Stub/StubHypercalls): 6. The non-canonical base and the unknown selector reach the
        // host, which refuses them, and so does GS_USER_SEL with 0xe02b, whose descriptor the host reads: 3.
        Assert.Contains("; hypercalls answered in the VM 6 (set_segment_base 6, stack_switch 0);", exits);
        Assert.Matches(@"hypercalls [0-9]+ \([^)]*set_segment_base 3[,)]", exits);
    }

    /// <summary>
    /// XSAVE and AVX as Xen's default PV policy offers them: where KVM supports XSAVE and AVX (the hardware lane's EPYC),
    /// the guest sees them through the enlightened CPUID, sets CR4.OSXSAVE, is refused invalid XSETBVs with #GP, enables
    /// x87|SSE|YMM and adds with vaddps. kvm_pvm supports no XSAVE: there the guest reports SKIP. The hardware lane
    /// (XENSHARP_EXPECT_KVM_KIND=Amd, QEMU's EPYC model) has both, so there a SKIP fails. The guest's lines go to the
    /// test's output.
    /// </summary>
    [KvmFact]
    public async Task Xsave_GuestEnablesAvxThroughXsetbvWhereTheMachineHasIt()
    {
        bool machineHasAvx;
        using (var kvm = XenSharp.Kvm.KvmSystem.Open())
        {
            const uint XsaveAndAvx = (1u << 26) | (1u << 28);
            machineHasAvx = kvm.GetSupportedCpuid().Any(e => e.Function == 1 && (e.Ecx & XsaveAndAvx) == XsaveAndAvx);
        }

        using var host = new KvmHost();

        DomainOutcome o = Assert.Single(await host.RunAsync([Guests.Config("xsave", "xsave")], Limits.Generous));

        string[] lines = Guests.Lines(o.Transcript);
        foreach (string line in lines)
        {
            output.WriteLine(line);
        }

        Assert.Equal(DomainOutcome.Poweroff, o.ExitCode);
        Assert.DoesNotContain(lines, l => l.StartsWith("[FAIL]", StringComparison.Ordinal));
        if (Environment.GetEnvironmentVariable("XENSHARP_EXPECT_KVM_KIND") is "Amd")
        {
            Assert.True(machineHasAvx, "the hardware lane's EPYC model has XSAVE and AVX, but KVM does not offer them");
        }

        if (machineHasAvx)
        {
            Assert.Contains(lines, l => l.StartsWith("[PASS] vaddps ymm across a hypercall", StringComparison.Ordinal));
            Assert.Equal(Guests.Success, lines[^1]);
        }
        else
        {
            Assert.Equal("Test result: SKIP", lines[^1]);
        }
    }
}
