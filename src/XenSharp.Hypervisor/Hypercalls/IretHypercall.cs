using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// iret (23): return from a bounce. The guest pushed struct iret_context {rax, r11, rcx, flags, rip, cs, rflags, rsp,
/// ss} and issued the hypercall; we restore from it, switching to guest user mode when CS has RPL 3. An unreadable
/// context crashes the domain (as Xen). The "result" is the restored RAX.
/// </summary>
internal static class IretHypercall
{
    public const ulong VgcfInSyscall = 1 << 8;
    private const int ContextSize = 72;

    public static long Iret(Vcpu v, ulong a1, ulong a2, ulong a3, ulong a4, ulong a5)
    {
        ulong rsp = v.FrameGet(StubFrame.Rsp);
        Span<byte> c = stackalloc byte[ContextSize];
        if (!v.CopyFromGuest(rsp, c))
        {
            v.Domain.Crash($"iret: cannot read the iret context at 0x{rsp:x}");
            return 0;
        }

        ulong rax = Q(c, 0), r11 = Q(c, 1), rcx = Q(c, 2), flags = Q(c, 3), rip = Q(c, 4), cs = Q(c, 5), rflags = Q(c, 6), newRsp = Q(c, 7);
        if (!Pv.GuestPageWalker.IsCanonical(rip))
        {
            v.Domain.Crash($"iret: non-canonical return address 0x{rip:x}");
            return 0;
        }

        if ((cs & 3) == 3 && v.InKernelMode)
        {
            if (v.UserL4 is null)
            {
                v.Domain.Crash("iret to user mode, but the guest registered no user page tables (MMUEXT_NEW_USER_BASEPTR)");
                return 0;
            }

            v.ToggleGuestMode();
        }

        if ((v.Domain.VmAssist & (1UL << VmAssist.TypeArchitecturalIopl)) != 0)
        {
            v.VirtualIopl = (int)((rflags >> 12) & 3);
        }

        v.VcpuInfo[SharedInfoLayout.UpcallMask] = (rflags & 0x200) != 0 ? (byte)0 : (byte)1;
        v.FrameSet(StubFrame.Rip, rip);
        v.FrameSet(StubFrame.Cs, XenSelectors.FlatRing3Cs64);
        v.FrameSet(StubFrame.Ss, XenSelectors.FlatRing3Ds);
        v.FrameSet(StubFrame.Rsp, newRsp);
        v.FrameSet(StubFrame.Rflags, (rflags & (ulong)StubImage.SafeGuestFlags) | 0x202);
        if ((flags & VgcfInSyscall) == 0)
        {
            v.FrameSet(StubFrame.Rcx, rcx);
            v.FrameSet(StubFrame.R11, r11);
        }

        return (long)rax;
    }

    private static ulong Q(ReadOnlySpan<byte> c, int i) => BinaryPrimitives.ReadUInt64LittleEndian(c[(i * 8)..]);
}
