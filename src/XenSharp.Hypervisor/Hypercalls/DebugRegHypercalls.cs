using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Pv.Emulation;
using XenSharp.Hypervisor.Pv.Policy;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// set_debugreg(reg, value) and get_debugreg(reg) (hypercalls 8 and 9), with Xen's rules (<see cref="DebugRegisterRules"/>):
/// DR0–3 must be guest addresses (-EPERM); DR6/DR7 upper halves must be 0 (-EINVAL); DR7.GD and I/O breakpoints
/// without CR4.DE are -EPERM; DR4/5 alias DR6/7 unless CR4.DE; other registers -ENODEV.
/// </summary>
internal static class DebugRegHypercalls
{
    public static long SetDebugreg(Vcpu vcpu, ulong reg, ulong value, ulong a3, ulong a4, ulong a5) =>
        DebugRegisterRules.Set(vcpu, PvCpuidPolicy.Host, Register(reg), value);

    public static long GetDebugreg(Vcpu vcpu, ulong reg, ulong a2, ulong a3, ulong a4, ulong a5) =>
        DebugRegisterRules.TryGet(vcpu, Register(reg), out ulong value) ? unchecked((long)value) : -XenErrno.ENODEV;

    /// <summary>Xen takes the register as an int: only the low 32 bits count.</summary>
    private static int Register(ulong reg) => unchecked((int)reg);
}
