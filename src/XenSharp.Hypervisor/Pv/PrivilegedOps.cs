using XenSharp.Hypervisor.Pv.Emulation;
using XenSharp.Hypervisor.Pv.Policy;

namespace XenSharp.Hypervisor.Pv;

/// <summary>
/// Emulation of the privileged instructions a PV guest kernel (running in ring 3) may use, for the #UD and #GP it
/// raises, as Xen's pv_emulate_invalid_op (emul-inv-op.c) and pv_emulate_privileged_op (emul-priv-op.c) do:
/// <list type="bullet">
/// <item>#UD: only the forced-emulation CPUID (<c>ud2; "xen"; cpuid</c>) — <see cref="ForcedEmulation"/>.</item>
/// <item>#GP: port I/O, CLTS, WBINVD, MOV to/from CR and DR, RDMSR/WRMSR, RDTSC(P), CPUID, XSETBV, CLI/STI —
/// <see cref="PrivilegedInstructions"/>, with the MSR rules in <see cref="MsrPolicy"/> and CPUID from
/// <see cref="PvCpuidPolicy"/>.</item>
/// </list>
/// Results: <see cref="EmulationOutcome.Emulated"/> (registers and RIP updated in the stub frame),
/// <see cref="EmulationOutcome.Fault"/> (deliver that exception instead; for #PF the address is the virtual CR2), or
/// <see cref="EmulationOutcome.NotHandled"/> (deliver the original #UD/#GP). Runs on the vCPU's own thread.
/// </summary>
internal static class PrivilegedOps
{
    public static EmulationResult TryEmulate(Domains.Vcpu vcpu, int vector) => TryEmulate(vcpu, vector, PvCpuidPolicy.Host);

    public static EmulationResult TryEmulate(Domains.Vcpu vcpu, int vector, PvCpuidPolicy policy) => vector switch
    {
        6 => ForcedEmulation.TryCpuid(vcpu, policy),

        // Xen emulates only a #GP with error code 0: a selector-related #GP is the guest's own business.
        13 when vcpu.FrameGet(Stub.StubFrame.ErrorCode) == 0 => PrivilegedInstructions.Emulate(vcpu, policy),
        _ => EmulationResult.NotHandled,
    };
}
