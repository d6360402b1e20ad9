using System.Buffers.Binary;
using Iced.Intel;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Policy;

namespace XenSharp.Hypervisor.Pv.Emulation;

/// <summary>
/// The guest kernel's view of CR0, CR2, CR3 and CR4 (Xen's read_cr/write_cr in pv/emul-priv-op.c and
/// pv_fixup_guest_cr4 in pv/domain.c):
/// <list type="bullet">
/// <item>CR0: the machine's CR0 with the guest's virtual TS. Writes may change TS only (else #GP).</item>
/// <item>CR2: the last #PF address delivered; writable (also updates vcpu_info's copy).</item>
/// <item>CR3: xen_pfn_to_cr3 of the kernel L4 (MFN &lt;&lt; 12 for 64-bit PV); a write installs a new kernel L4 as
/// MMUEXT_NEW_BASEPTR does (#GP if it does not validate).</item>
/// <item>CR4: the guest may toggle DE and OSXSAVE (when the policy offers XSAVE; TSD and FSGSBASE it does not offer
/// here, see <see cref="PvCpuidFeatures"/>); other bits are the hypervisor's and writes to them are silently ignored, as
/// Xen does. OSXSAVE is virtual, as in Xen: the real CR4 has it whenever the machine has XSAVE; the guest's bit decides
/// XSETBV (#UD without it) and leaf 1's OSXSAVE.</item>
/// </list>
/// </summary>
internal static class ControlRegisters
{
    public const ulong Cr0Ts = 1UL << 3;
    public const ulong Cr4Tsd = 1UL << 2;
    public const ulong Cr4De = 1UL << 3;
    public const ulong Cr4Fsgsbase = 1UL << 16;
    public const ulong Cr4Osxsave = 1UL << 18;

    /// <summary>The CR4 bits a PV guest controls (Xen's PV_CR4_GUEST_MASK).</summary>
    public const ulong Cr4GuestMask = Cr4Tsd | Cr4De | Cr4Fsgsbase | Cr4Osxsave;

    public static bool TryRead(Vcpu v, int cr, out ulong value)
    {
        switch (cr)
        {
            case 0:
                value = v.VirtualCr0;
                return true;
            case 2:
                value = v.VirtualCr2;
                return true;
            case 3:
                value = v.KernelL4.Address; // PV is not translated: the "gfn" is the MFN
                return true;
            case 4:
                value = v.VirtualCr4;
                return true;
            default:
                value = 0;
                return false;
        }
    }

    /// <summary>False when Xen would refuse the write (the caller injects #GP).</summary>
    public static bool TryWrite(Vcpu v, PvCpuidPolicy p, int cr, ulong value)
    {
        switch (cr)
        {
            case 0:
                if (((value ^ v.VirtualCr0) & ~Cr0Ts) != 0)
                {
                    return false; // only TS is the guest's to change
                }

                SetTaskSwitched(v, (value & Cr0Ts) != 0);
                return true;
            case 2:
                v.VirtualCr2 = value;
                BinaryPrimitives.WriteUInt64LittleEndian(v.VcpuInfo[SharedInfoLayout.ArchCr2..], value);
                return true;
            case 3:
                // Xen's new_guest_cr3 on xen_cr3_to_pfn(value): the frame must validate as the domain's L4.
                return v.Domain.Mmu.NewBasePtr(v, new Mfn(value >> Mfn.PageShift)) == 0;
            case 4:
                v.VirtualCr4 = FixupCr4(v, p, value);
                return true;
            default:
                return false; // CR8 and the rest do not exist for a PV guest
        }
    }

    /// <summary>Xen's pv_fixup_guest_cr4: the guest's choice of its own bits, within the policy; the rest unchanged.</summary>
    public static ulong FixupCr4(Vcpu v, PvCpuidPolicy p, ulong value)
    {
        ulong allowed = (p.HasDe ? Cr4De : 0)
            | (p.HasFsgsbase ? Cr4Fsgsbase : 0)
            | (p.HasXsave ? Cr4Osxsave : 0);

        // TSD is offered by Xen whenever the guest has a TSC, but it only means something if the real CR4.TSD follows
        // it (user-mode RDTSC must fault), which the stub cannot do yet: dropped like a bit outside the policy.
        return (value & Cr4GuestMask & allowed) | (v.VirtualCr4 & ~Cr4GuestMask);
    }

    /// <summary>The virtual CR0.TS (fpu_taskswitch, CLTS, MOV to CR0).</summary>
    public static void SetTaskSwitched(Vcpu v, bool set) =>
        v.VirtualCr0 = set ? v.VirtualCr0 | Cr0Ts : v.VirtualCr0 & ~Cr0Ts;

    /// <summary>The CR number of an Iced control-register operand.</summary>
    internal static int Number(Register r) => r - Register.CR0;
}
