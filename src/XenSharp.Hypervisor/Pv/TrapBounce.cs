using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Pv;

/// <summary>
/// Delivers exceptions, software interrupts and callbacks to the guest kernel the way Xen's create_bounce_frame does:
/// switch to guest kernel mode (kernel stack from stack_switch) if needed, push RCX, R11, [error code], RIP,
/// CS (with the old event mask in bits 32–39), RFLAGS (IF = events unmasked), RSP, SS on the 16-byte-aligned guest
/// kernel stack, and continue at the handler. A frame that cannot be written, or a missing handler, crashes the
/// domain. Works on the vCPU's stub frame; runs on the vCPU's own thread. A page fault is bounced without allocating:
/// its description for a crash message is formatted only when the bounce fails.
/// </summary>
internal static class TrapBounce
{
    private const ulong FlagsIf = 0x200;
    private const ulong FlagsIopl = 0x3000;
    private const ulong FlagsClearedOnEntry = 0x100 | 0x4000 | 0x10000 | 0x20000 | 0x40000; // TF NT RF VM AC

    /// <summary>Delivers exception <paramref name="vector"/> through the guest's trap table.</summary>
    public static bool Inject(Vcpu v, int vector, ulong? errorCode, string what) => Deliver(v, vector, errorCode, what);

    /// <summary>Delivers a page fault: CR2 goes to vcpu_info and the virtual CR2; the error code's U bit says guest user mode.</summary>
    public static bool InjectPageFault(Vcpu v, ulong cr2, ulong errorCode)
    {
        ulong error = v.InKernelMode ? errorCode & ~4UL : errorCode | 4;
        v.VirtualCr2 = cr2;
        BinaryPrimitives.WriteUInt64LittleEndian(v.VcpuInfo[SharedInfoLayout.ArchCr2..], cr2);
        return Deliver(v, 14, error, what: null);
    }

    /// <summary>
    /// Pushes a bounce frame and points the vCPU at <paramref name="handler"/>. The return address is the frame's
    /// current RIP (for faults, the faulting instruction; callers advance RIP first for traps and software interrupts).
    /// </summary>
    public static bool Bounce(Vcpu v, ulong handler, bool maskEvents, ulong? errorCode, string what) =>
        PushFrame(v, handler, maskEvents, errorCode, what);

    /// <summary>What a crash message calls the event: <paramref name="what"/>, or (null) the page fault at the virtual CR2.</summary>
    private static string Describe(Vcpu v, string? what, ulong? errorCode) =>
        what ?? $"#PF at 0x{v.VirtualCr2:x} (error 0x{errorCode ?? 0:x})";

    private static bool Deliver(Vcpu v, int vector, ulong? errorCode, string? what)
    {
        TrapInfo t = v.TrapTable[vector];
        if (t.Address == 0)
        {
            v.Domain.Crash(CrashReport.Describe(v, (ulong)vector, errorCode ?? 0));
            return false;
        }

        return PushFrame(v, t.Address, (t.Flags & TrapInfo.SetIf) != 0, errorCode, what);
    }

    /// <summary><paramref name="what"/> null: a page fault, described only if the bounce fails (<see cref="Describe"/>).</summary>
    private static bool PushFrame(Vcpu v, ulong handler, bool maskEvents, ulong? errorCode, string? what)
    {
        if (handler == 0 || !GuestPageWalker.IsCanonical(handler))
        {
            v.Domain.Crash($"{Describe(v, what, errorCode)}: no handler registered to deliver it to");
            return false;
        }

        ulong rip = v.FrameGet(StubFrame.Rip);
        ulong rflags = v.FrameGet(StubFrame.Rflags);
        ulong rsp = v.FrameGet(StubFrame.Rsp);
        ulong rcx = v.FrameGet(StubFrame.Rcx);
        ulong r11 = v.FrameGet(StubFrame.R11);
        ulong savedSs = v.FrameGet(StubFrame.Ss);
        ulong savedCs = v.FrameGet(StubFrame.Cs);
        Span<byte> info = v.VcpuInfo;
        byte savedMask = info[SharedInfoLayout.UpcallMask];

        bool fromUser = !v.InKernelMode;
        ulong stack;
        if (fromUser)
        {
            v.ToggleGuestMode();
            stack = v.KernelSp;
        }
        else
        {
            stack = rsp;
            savedCs &= ~3UL; // kernel-mode frames show CS with RPL 0 (0xe030)
        }

        ulong guestFlags = (rflags & ~(FlagsIf | FlagsIopl)) | (savedMask == 0 ? FlagsIf : 0);
        if ((v.Domain.VmAssist & (1UL << VmAssist.TypeArchitecturalIopl)) != 0)
        {
            guestFlags |= (ulong)v.VirtualIopl << 12;
        }

        int words = errorCode is null ? 7 : 8;
        ulong newRsp = (stack & ~0xfUL) - (ulong)(words * 8);
        if (newRsp >= XenVirtualLayout.HypervisorVirtStart - (ulong)(words * 8) && newRsp < XenVirtualLayout.HypervisorVirtEnd + 64)
        {
            v.Domain.Crash($"{Describe(v, what, errorCode)}: the guest stack 0x{stack:x} is in the hypervisor's range");
            return false;
        }

        Span<ulong> frame = stackalloc ulong[8];
        int o = 0;
        frame[o++] = rcx;
        frame[o++] = r11;
        if (errorCode is { } e)
        {
            frame[o++] = e;
        }

        frame[o++] = rip;
        frame[o++] = (savedCs & 0xffff) | ((ulong)savedMask << 32);
        frame[o++] = guestFlags;
        frame[o++] = rsp;
        frame[o] = savedSs;
        if (!v.CopyToGuest(newRsp, System.Runtime.InteropServices.MemoryMarshal.AsBytes(frame[..words])))
        {
            v.Domain.Crash($"{Describe(v, what, errorCode)}: cannot write the bounce frame to the guest kernel stack at 0x{newRsp:x}");
            return false;
        }

        if (maskEvents)
        {
            info[SharedInfoLayout.UpcallMask] = 1;
        }

        v.FrameSet(StubFrame.Rip, handler);
        v.FrameSet(StubFrame.Cs, XenSelectors.FlatKernelCs);
        v.FrameSet(StubFrame.Ss, XenSelectors.FlatKernelSs);
        v.FrameSet(StubFrame.Rsp, newRsp);
        v.FrameSet(StubFrame.Rflags, (rflags & ~(FlagsClearedOnEntry | FlagsIopl)) | FlagsIf | 2);
        return true;
    }
}
