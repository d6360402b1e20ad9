using XenSharp.Abi;
using XenSharp.Hypervisor.Pv.Emulation;
using XenSharp.Hypervisor.Pv.Mmu;
using XenSharp.Hypervisor.Pv.Policy;

namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// What both ways of giving a vCPU a whole context share (the guest's VCPUOP_initialise and Domain 0's set-context, as
/// Xen's arch_set_info_guest serves both): the debug registers' checks and loading, the LDT's bounds, the VM assists
/// vCPU 0 may name, and the RFLAGS a PV guest's frame may hold. Checks change nothing; loads cannot fail.
/// </summary>
internal static class VcpuContextRules
{
    private const ulong RflagsAll = 0x3f7fd5; // CF PF AF ZF SF TF IF DF OF IOPL NT RF VM AC VIF VIP ID
    private const ulong RflagsIopl = 0x3000;
    private const ulong RflagsVm = 0x20000;
    private const ulong RflagsIf = 0x200;
    private const ulong RflagsMbs = 0x2;

    /// <summary>DR0-DR3 usable breakpoint addresses, DR6 and DR7 within 32 bits (<paramref name="dr"/>: DR0-DR7).</summary>
    public static bool DebugRegistersOk(ReadOnlySpan<ulong> dr)
    {
        if (dr.Length != 8 || dr[6] != (uint)dr[6] || dr[7] != (uint)dr[7])
        {
            return false;
        }

        for (int i = 0; i < 4; i++)
        {
            if (!DebugRegisterRules.BreakpointAddressOk(dr[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>DR0-DR3, DR6 and DR7 as set_debugreg would set them (checked by <see cref="DebugRegistersOk"/>).</summary>
    public static void LoadDebugRegisters(Vcpu v, ReadOnlySpan<ulong> dr)
    {
        for (int i = 0; i < 4; i++)
        {
            DebugRegisterRules.Set(v, PvCpuidPolicy.Host, i, dr[i]);
        }

        DebugRegisterRules.Set(v, PvCpuidPolicy.Host, 6, dr[6]);
        DebugRegisterRules.Set(v, PvCpuidPolicy.Host, 7, dr[7]);
    }

    /// <summary>MMUEXT_SET_LDT's bounds: at most 8192 entries; with any, a page-aligned guest address.</summary>
    public static bool LdtOk(ulong linear, ulong entries) =>
        entries <= MmuAbi.MaxLdtEntries
        && (entries == 0 || ((linear & 0xfff) == 0 && XenVirtualLayout.IsGuestAddress(linear)));

    /// <summary>Only vCPU 0's context names the domain's VM assists, and only those a 64-bit PV domain has.</summary>
    public static bool VmAssistOk(Vcpu v, ulong vmAssist) => v.Id != 0 || (vmAssist & ~VmAssist.Pv64ValidMask) == 0;

    /// <summary>
    /// The frame's RFLAGS for the guest's: only defined flags, never VM86, the must-be-one bit set; IOPL is kept as the
    /// vCPU's virtual IOPL and real interrupts stay enabled.
    /// </summary>
    public static ulong LoadRflags(Vcpu v, ulong guestRflags)
    {
        ulong rflags = (guestRflags & RflagsAll & ~RflagsVm) | RflagsMbs;
        v.VirtualIopl = (int)((rflags & RflagsIopl) >> 12);
        return (rflags & ~RflagsIopl) | RflagsIf;
    }

    /// <summary>The guest's view of the frame's RFLAGS: the virtual IOPL in place of the real one.</summary>
    public static ulong GuestRflags(Vcpu v, ulong frameRflags) => (frameRflags & ~RflagsIopl) | ((ulong)v.VirtualIopl << 12);
}
