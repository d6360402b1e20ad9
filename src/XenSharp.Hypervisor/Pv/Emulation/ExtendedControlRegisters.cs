using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Pv.Policy;
using static XenSharp.Hypervisor.Pv.Policy.PvCpuidFeatures;

namespace XenSharp.Hypervisor.Pv.Emulation;

/// <summary>
/// XSETBV from the guest kernel, as Xen's emulator and handle_xsetbv (xstate.c) take it. The instruction is privileged,
/// so from the deprivileged PV kernel it always faults here; XGETBV is not, and runs natively (the vCPU has CR4.OSXSAVE
/// wherever XSAVE is offered). Order of checks, as x86_emulate: the guest's own CR4.OSXSAVE clear: #UD; guest user
/// mode: #GP(0); then the register and value: only XCR0, only bits the policy offers (<see cref="PvCpuidPolicy.Xcr0Max"/>)
/// and only an architecturally valid combination, else #GP(0). An accepted value goes to the machine; a machine that
/// refuses a value the policy offered is a hypervisor bug, and Xen crashes the domain for it.
/// </summary>
internal static class ExtendedControlRegisters
{
    /// <summary>Xen's valid_xcr0: x87 always; YMM needs SSE; the AVX-512 components need YMM and come together; MPX's two together.</summary>
    public static bool IsValidXcr0(ulong xcr0)
    {
        if ((xcr0 & Xcr0X87) == 0)
        {
            return false;
        }

        if ((xcr0 & Xcr0Ymm) != 0 && (xcr0 & Xcr0Sse) == 0)
        {
            return false;
        }

        if ((xcr0 & Xcr0Avx512) != 0 && ((xcr0 & Xcr0Ymm) == 0 || (xcr0 & Xcr0Avx512) != Xcr0Avx512))
        {
            return false;
        }

        return ((xcr0 & Xcr0Bndregs) == 0) == ((xcr0 & Xcr0Bndcsr) == 0);
    }

    /// <summary>Whether XSETBV may set XCR<paramref name="index"/> to <paramref name="value"/> (false: #GP(0)).</summary>
    public static bool IsAllowed(PvCpuidPolicy p, uint index, ulong value) =>
        index == 0 && (value & ~p.Xcr0Max) == 0 && IsValidXcr0(value);

    /// <summary>The emulated XSETBV: ECX selects the register, EDX:EAX the value.</summary>
    public static EmulationResult Xsetbv(Vcpu v, PvCpuidPolicy p, uint index, ulong value)
    {
        if ((v.VirtualCr4 & ControlRegisters.Cr4Osxsave) == 0)
        {
            return EmulationResult.Fault(6, null);
        }

        if (!v.InKernelMode || !IsAllowed(p, index, value))
        {
            return EmulationResult.Fault(13, 0);
        }

        if (value != v.Emulation.Xcr0)
        {
            try
            {
                v.Machine?.SetXcr0(value);
            }
            catch (MachineRefusedException e)
            {
                v.Domain.Crash($"XSETBV: the machine refused XCR0 0x{value:x} that the policy offers ({e.Message})");
                return EmulationResult.Fault(13, 0);
            }

            v.Emulation.Xcr0 = value;
        }

        return EmulationResult.Emulated;
    }
}
