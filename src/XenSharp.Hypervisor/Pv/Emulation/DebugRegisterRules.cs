using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Pv.Policy;

namespace XenSharp.Hypervisor.Pv.Emulation;

/// <summary>
/// The guest's debug registers as Xen's set_debugreg and x86emul_read_dr define them (pv/misc-hypercalls.c,
/// x86_emulate/util-xen.c), shared by the set_debugreg/get_debugreg hypercalls and emulated MOV to/from DRn.
/// <see cref="Vcpu.DebugRegisters"/> holds DR0–3, DR6 and DR7 (4 and 5 mirror 6 and 7); DR7's I/O-breakpoint enable
/// bits are kept apart (<see cref="PvEmulationState.Dr7IoEnable"/>) because Xen emulates I/O breakpoints itself.
/// <para>Every change marks <see cref="Vcpu.DebugRegistersDirty"/>: the machine loads DR0–3, DR6 and DR7 (without the
/// emulated I/O enables) into the real vCPU before the guest runs again, so data and instruction breakpoints are
/// real.</para>
/// </summary>
internal static class DebugRegisterRules
{
    public const ulong Dr6Default = 0xffff0ff0;
    public const ulong Dr7Default = 0x400;
    public const uint Dr6SingleStep = 1u << 14;

    private const ulong Dr6Zeros = 0x1000;
    private const ulong Dr6Rtm = 1UL << 16;
    private const ulong Dr6BusLock = 1UL << 11;
    private const ulong Dr6BreakpointMask = 0xf;
    private const ulong Dr7Zeros = 0xd000;
    private const ulong Dr7Rtm = 1UL << 11;
    private const ulong Dr7GeneralDetect = 1UL << 13;
    private const ulong Dr7ActiveMask = 0xff;
    private const ulong Cr4De = 1UL << 3;
    private const uint ReadWriteIo = 2;

    /// <summary>
    /// Sets DR<paramref name="reg"/>. Returns 0, or -ENODEV (no such register: #UD when emulating), -EINVAL (reserved
    /// bits) or -EPERM (not permitted) — both #GP when emulating.
    /// </summary>
    public static int Set(Vcpu v, PvCpuidPolicy p, int reg, ulong value)
    {
        bool de = (v.VirtualCr4 & Cr4De) != 0;
        switch (reg)
        {
            case >= 0 and <= 3:
                if (!BreakpointAddressOk(value))
                {
                    return -XenErrno.EPERM;
                }

                v.DebugRegisters[reg] = value;
                v.DebugRegistersDirty = true;
                return 0;
            case 4 when de:
            case 5 when de:
                return -XenErrno.ENODEV;
            case 4 or 6:
                if (value != (uint)value)
                {
                    return -XenErrno.EINVAL;
                }

                v.DebugRegisters[6] = v.DebugRegisters[4] = AdjustDr6(p, value);
                v.DebugRegistersDirty = true;
                return 0;
            case 5 or 7:
                return SetDr7(v, p, value, de);
            default:
                return -XenErrno.ENODEV;
        }
    }

    /// <summary>Reads DR<paramref name="reg"/>; false when the register does not exist (DR4/5 with CR4.DE, DR8+).</summary>
    public static bool TryGet(Vcpu v, int reg, out ulong value)
    {
        bool de = (v.VirtualCr4 & Cr4De) != 0;
        value = 0;
        switch (reg)
        {
            case >= 0 and <= 3:
                value = v.DebugRegisters[reg];
                return true;
            case 4 or 6 when !(reg == 4 && de):
                value = v.DebugRegisters[6];
                return true;
            case 5 or 7 when !(reg == 5 && de):
                value = v.DebugRegisters[7] | v.Emulation.Dr7IoEnable;
                return true;
            default:
                return false;
        }
    }

    /// <summary>Records debug-exception causes in DR6 as Xen's x86_merge_dr6 does (breakpoint bits replaced, others accumulate).</summary>
    public static void MergeDr6(Vcpu v, PvCpuidPolicy p, uint pending)
    {
        ulong dr6 = v.DebugRegisters[6] ^ Dr6Default;
        dr6 = (dr6 & ~Dr6BreakpointMask) | pending;
        v.DebugRegisters[6] = v.DebugRegisters[4] = AdjustDr6(p, dr6 ^ Dr6Default);
    }

    /// <summary>Which emulated I/O breakpoints (bits 0–3) an access to <paramref name="port"/>..+len hits (needs CR4.DE).</summary>
    public static uint IoBreakpointMatch(Vcpu v, uint port, uint length)
    {
        uint enabled = v.Emulation.Dr7IoEnable;
        if (enabled == 0 || (v.VirtualCr4 & Cr4De) == 0)
        {
            return 0;
        }

        uint match = 0;
        ulong dr7 = v.DebugRegisters[7];
        for (int i = 0; i < 4; i++)
        {
            if ((enabled & (3u << (i * 2))) == 0)
            {
                continue;
            }

            uint len = (uint)(dr7 >> (16 + (4 * i) + 2)) & 3;
            uint width = len == 2 ? 8u : len + 1;
            ulong start = v.DebugRegisters[i] & ~(ulong)(width - 1);
            if (start < port + length && start + width > port)
            {
                match |= 1u << i;
            }
        }

        return match;
    }

    private static int SetDr7(Vcpu v, PvCpuidPolicy p, ulong value, bool de)
    {
        if (value != (uint)value)
        {
            return -XenErrno.EINVAL;
        }

        value = AdjustDr7(p, value);
        if ((value & Dr7GeneralDetect) != 0)
        {
            return -XenErrno.EPERM;
        }

        uint ioEnable = 0;
        if ((value & Dr7ActiveMask) != 0)
        {
            for (int i = 16; i < 32; i += 4)
            {
                if (((value >> i) & 3) == ReadWriteIo)
                {
                    if (!de)
                    {
                        return -XenErrno.EPERM; // I/O breakpoints need CR4.DE; the old configuration stays
                    }

                    ioEnable |= (uint)value & (3u << ((i - 16) >> 1));
                }
            }

            value &= ~(ulong)ioEnable;
        }

        v.Emulation.Dr7IoEnable = ioEnable;
        v.SetIoBreakpointsArmed(ioEnable != 0);
        v.DebugRegisters[7] = v.DebugRegisters[5] = value;
        v.DebugRegistersDirty = true;
        return 0;
    }

    private static ulong AdjustDr6(PvCpuidPolicy p, ulong dr6)
    {
        // Most reserved bits read as 1; the newer inverted-polarity ones only when their feature is absent.
        ulong ones = Dr6Default;
        if (p.HasRtm)
        {
            ones &= ~Dr6Rtm;
        }

        if (p.HasBusLockDetect)
        {
            ones &= ~Dr6BusLock;
        }

        return (dr6 | ones) & ~Dr6Zeros;
    }

    private static ulong AdjustDr7(PvCpuidPolicy p, ulong dr7)
    {
        ulong zeros = Dr7Zeros | (p.HasRtm ? 0 : Dr7Rtm);
        return (dr7 & ~zeros) | Dr7Default;
    }

    /// <summary>Xen's __addr_ok: below the canonical hole, or above the hypervisor's range.</summary>
    /// <summary>Xen's breakpoint_addr_ok: a DR0–3 value must be a guest address.</summary>
    public static bool BreakpointAddressOk(ulong address) =>
        address < (1UL << 47) || address >= XenVirtualLayout.HypervisorVirtEnd;
}
