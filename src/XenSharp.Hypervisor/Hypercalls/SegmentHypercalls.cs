using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Pv;
using XenSharp.Hypervisor.Pv.Emulation;
using XenSharp.Hypervisor.Pv.Mmu;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// set_segment_base(which, base) (xen/arch/x86/pv/misc-hypercalls.c): the 64-bit PV way to set FS and GS bases
/// without WRMSR. The bases live in the real vCPU's MSRs (<see cref="SegmentBases"/>); hypercalls come from guest
/// kernel mode, where the user GS base is the inactive one (hardware KERNEL_GS_BASE).
/// </summary>
internal static class SegmentHypercalls
{
    public const uint SegbaseFs = 0;
    public const uint SegbaseGsUser = 1;
    public const uint SegbaseGsKernel = 2;
    public const uint SegbaseGsUserSel = 3;

    public static long SetSegmentBase(Vcpu vcpu, ulong which, ulong @base, ulong a3, ulong a4, ulong a5)
    {
        switch ((uint)which)
        {
            case SegbaseFs or SegbaseGsUser or SegbaseGsKernel:
            {
                if (!GuestPageWalker.IsCanonical(@base))
                {
                    return -XenErrno.EINVAL;
                }

                bool done = (uint)which switch
                {
                    SegbaseFs => SegmentBases.TryWriteFs(vcpu, @base),
                    SegbaseGsUser => SegmentBases.TryWriteUserGs(vcpu, @base),
                    _ => SegmentBases.TryWriteActiveGs(vcpu, @base),
                };
                return done ? 0 : -XenErrno.ENOSYS; // no machine state to hold it (cannot happen on a running vCPU)
            }

            case SegbaseGsUserSel:
                // Xen loads the selector into %gs between two swapgs and caches the base it produced as the user GS
                // base; a selector that does not load leaves %gs NUL (base 0). The call never fails (Linux BUGs).
                // Here only the base is set: the hardware %gs selector itself is not changed.
                SegmentBases.TryWriteUserGs(vcpu, SelectorBase(vcpu, (ushort)@base));
                return 0;

            default:
                return -XenErrno.EINVAL;
        }
    }

    /// <summary>
    /// The base a 64-bit `mov %gs` of <paramref name="selector"/> would load in guest user mode (CPL 3): a present data
    /// or readable code segment with DPL 3 (or conforming code) from the guest's GDT or LDT; NUL, Xen's own flat
    /// selectors, and anything that would fault give 0.
    /// </summary>
    internal static ulong SelectorBase(Vcpu v, ushort selector)
    {
        int index = selector >> 3;
        if ((selector & ~3) == 0)
        {
            return 0;
        }

        Span<byte> raw = stackalloc byte[8];
        VcpuMmuState s = v.Domain.Mmu.VcpuState(v.Id);
        if ((selector & 4) == 0)
        {
            if (index >= s.GdtEntries || s.GdtFrames[index / 512] is not { } frame)
            {
                return 0; // past the guest's GDT (Xen's reserved selectors are all flat)
            }

            v.Domain.Pool.Memory.GetSpan(frame.Address + ((ulong)(index % 512) * 8), 8).CopyTo(raw);
        }
        else if (index >= s.LdtEntries || !GuestAccess.CopyFrom(v.Domain.Pool, v.Domain.Id, v.KernelL4, s.LdtBase + ((ulong)index * 8), raw))
        {
            return 0;
        }

        ulong d = BinaryPrimitives.ReadUInt64LittleEndian(raw);
        bool present = (d & (1UL << 47)) != 0;
        bool codeOrData = (d & (1UL << 44)) != 0;
        bool code = (d & (1UL << 43)) != 0;
        bool conforming = code && (d & (1UL << 42)) != 0;
        bool readable = !code || (d & (1UL << 41)) != 0;
        int dpl = (int)(d >> 45) & 3;
        if (!present || !codeOrData || !readable || (!conforming && dpl != 3))
        {
            return 0;
        }

        return ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
    }
}
