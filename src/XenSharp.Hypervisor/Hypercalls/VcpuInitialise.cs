using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv;
using XenSharp.Hypervisor.Pv.Emulation;
using XenSharp.Hypervisor.Pv.Policy;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// VCPUOP_initialise: gives a vCPU that never ran its first context from a vcpu_guest_context (Xen's
/// default_initialise_vcpu + arch_set_info_guest for a 64-bit PV domain). Checks come first and change nothing;
/// then the GDT and the base tables take their typed references (undone if a later one fails); only then is the
/// vCPU's state written. The vCPU stays down unless VGCF_online is set; VCPUOP_up starts it.
/// Not loaded: the FPU image (VGCF_i387_valid): the vCPU starts with a clean FPU, which is what Linux asks for.
/// </summary>
internal static class VcpuInitialise
{
    public static long Initialise(Vcpu caller, Vcpu target, ulong arg)
    {
        Domain d = target.Domain;
        byte[] ctx = new byte[VcpuGuestContextLayout.Size]; // rare (once per vCPU), and too big for the stack
        if (!caller.CopyFromGuest(arg, ctx))
        {
            return -XenErrno.EFAULT;
        }

        bool online = (U64(ctx, VcpuGuestContextLayout.Flags) & VcpuGuestContextLayout.FlagOnline) != 0;
        int rc = target.Lifecycle.Initialise(() => Apply(caller, target, ctx), online, out bool broughtUp);
        if (rc != 0 || !broughtUp)
        {
            return rc;
        }

        d.StartVcpu?.Invoke(target.Id);
        return 0;
    }

    private static int Apply(Vcpu caller, Vcpu v, byte[] ctx)
    {
        Domain d = v.Domain;
        const int R = VcpuGuestContextLayout.UserRegs;
        ulong flags = U64(ctx, VcpuGuestContextLayout.Flags);
        Span<ulong> dr = stackalloc ulong[8];
        for (int i = 0; i < 8; i++)
        {
            dr[i] = U64(ctx, VcpuGuestContextLayout.DebugRegisters + (i * 8));
        }

        if (!VcpuContextRules.DebugRegistersOk(dr))
        {
            return -XenErrno.EINVAL;
        }

        ulong ldtBase = U64(ctx, VcpuGuestContextLayout.LdtBase);
        ulong ldtEntries = U64(ctx, VcpuGuestContextLayout.LdtEntries);
        Span<int> mustBeCanonical =
        [
            R + VcpuGuestContextLayout.Rip, R + VcpuGuestContextLayout.Rsp, VcpuGuestContextLayout.KernelSp,
            VcpuGuestContextLayout.FsBase, VcpuGuestContextLayout.GsBaseKernel, VcpuGuestContextLayout.GsBaseUser,
            VcpuGuestContextLayout.EventCallback, VcpuGuestContextLayout.SyscallCallback, VcpuGuestContextLayout.FailsafeCallback,
        ];
        foreach (int off in mustBeCanonical)
        {
            if (!GuestPageWalker.IsCanonical(U64(ctx, off)))
            {
                return -XenErrno.EINVAL;
            }
        }

        for (int i = 0; i < 256; i++)
        {
            if (!GuestPageWalker.IsCanonical(U64(ctx, VcpuGuestContextLayout.TrapContext + (i * TrapInfo.Size) + 8)))
            {
                return -XenErrno.EINVAL;
            }
        }

        if (!VcpuContextRules.LdtOk(ldtBase, ldtEntries) || !VcpuContextRules.VmAssistOk(v, U64(ctx, VcpuGuestContextLayout.VmAssist)))
        {
            return -XenErrno.EINVAL;
        }

        ulong gdtEntries = U64(ctx, VcpuGuestContextLayout.GdtEntries);
        ulong gdtFrames = (gdtEntries + 511) / 512;
        if (gdtFrames > VcpuGuestContextLayout.GdtFrameCount)
        {
            return -XenErrno.EINVAL;
        }

        bool inKernel = (flags & VcpuGuestContextLayout.FlagInKernel) != 0;
        ulong userCr3 = U64(ctx, VcpuGuestContextLayout.ControlRegisters + 8);
        ulong kernelCr3 = U64(ctx, VcpuGuestContextLayout.ControlRegisters + (3 * 8));
        if (kernelCr3 >> 12 == 0 || (!inKernel && userCr3 == 0))
        {
            return -XenErrno.EINVAL; // user mode with no user page tables
        }

        // Typed references: GDT frames, then the kernel and user base tables; each failure undoes the ones before.
        Span<ulong> frames = stackalloc ulong[VcpuGuestContextLayout.GdtFrameCount];
        for (int i = 0; i < (int)gdtFrames; i++)
        {
            frames[i] = U64(ctx, VcpuGuestContextLayout.GdtFrames + (i * 8));
        }

        int rc = d.Mmu.SetGdt(v, frames[..(int)gdtFrames], (uint)gdtEntries);
        if (rc != 0)
        {
            return rc;
        }

        rc = d.Mmu.NewBasePtr(v, new Mfn(kernelCr3 >> 12));
        if (rc != 0)
        {
            d.Mmu.SetGdt(v, [], 0);
            return -XenErrno.EINVAL;
        }

        if (userCr3 != 0)
        {
            rc = d.Mmu.NewUserBasePtr(v, userCr3 >> 12);
            if (rc != 0)
            {
                d.Mmu.ReleaseBaseTables(v);
                d.Mmu.SetGdt(v, [], 0);
                return -XenErrno.EINVAL;
            }
        }

        // From here nothing fails: the vCPU's state.
        if (v.Id == 0)
        {
            d.VmAssist = U64(ctx, VcpuGuestContextLayout.VmAssist);
        }

        v.SetKernelMode(inKernel);
        for (int i = 0; i < 256; i++)
        {
            int e = VcpuGuestContextLayout.TrapContext + (i * TrapInfo.Size);
            ulong address = U64(ctx, e + 8);
            ushort cs = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(ctx.AsSpan(e + 2)) | 3);
            v.TrapTable[i] = address == 0 ? default : new TrapInfo((byte)i, ctx[e + 1], cs, address);
        }

        d.Mmu.SetLdt(v, ldtEntries != 0 ? ldtBase : 0, (uint)ldtEntries); // checked above: cannot fail
        v.KernelSs = U64(ctx, VcpuGuestContextLayout.KernelSs) | 3; // guest selectors are RPL 3 on 64-bit PV
        v.KernelSp = U64(ctx, VcpuGuestContextLayout.KernelSp);
        v.EventCallback = U64(ctx, VcpuGuestContextLayout.EventCallback);
        v.FailsafeCallback = U64(ctx, VcpuGuestContextLayout.FailsafeCallback);
        v.SyscallCallback = U64(ctx, VcpuGuestContextLayout.SyscallCallback);
        v.SyscallCallbackMasksEvents = (flags & VcpuGuestContextLayout.FlagSyscallDisablesEvents) != 0;
        v.VirtualCr0 = (v.VirtualCr0 & ~8UL) | (U64(ctx, VcpuGuestContextLayout.ControlRegisters) & 8);

        VcpuContextRules.LoadDebugRegisters(v, dr); // checked above

        // Segment bases: loaded into the vCPU's MSRs when its thread starts (the thread owns its KVM state).
        v.PendingSegmentBases = new PendingSegmentBases(
            U64(ctx, VcpuGuestContextLayout.FsBase),
            U64(ctx, VcpuGuestContextLayout.GsBaseKernel),
            U64(ctx, VcpuGuestContextLayout.GsBaseUser));

        // Registers: the frame the stub's start entry restores. IOPL is virtualised; real interrupts stay enabled.
        ulong rflags = VcpuContextRules.LoadRflags(v, U64(ctx, R + VcpuGuestContextLayout.Rflags));
        v.SetInitialFrame(
            rip: U64(ctx, R + VcpuGuestContextLayout.Rip),
            cs: U64(ctx, R + VcpuGuestContextLayout.Cs) & 0xffff | 3,
            rflags: rflags,
            rsp: U64(ctx, R + VcpuGuestContextLayout.Rsp),
            ss: U64(ctx, R + VcpuGuestContextLayout.Ss) & 0xffff | 3);
        Span<(int Frame, int Context)> gprs =
        [
            (StubFrame.R15, VcpuGuestContextLayout.R15), (StubFrame.R14, VcpuGuestContextLayout.R14),
            (StubFrame.R13, VcpuGuestContextLayout.R13), (StubFrame.R12, VcpuGuestContextLayout.R12),
            (StubFrame.Rbp, VcpuGuestContextLayout.Rbp), (StubFrame.Rbx, VcpuGuestContextLayout.Rbx),
            (StubFrame.R11, VcpuGuestContextLayout.R11), (StubFrame.R10, VcpuGuestContextLayout.R10),
            (StubFrame.R9, VcpuGuestContextLayout.R9), (StubFrame.R8, VcpuGuestContextLayout.R8),
            (StubFrame.Rax, VcpuGuestContextLayout.Rax), (StubFrame.Rcx, VcpuGuestContextLayout.Rcx),
            (StubFrame.Rdx, VcpuGuestContextLayout.Rdx), (StubFrame.Rsi, VcpuGuestContextLayout.Rsi),
            (StubFrame.Rdi, VcpuGuestContextLayout.Rdi),
        ];
        foreach ((int frame, int context) in gprs)
        {
            v.FrameSet(frame, U64(ctx, R + context));
        }

        if ((flags & VcpuGuestContextLayout.FlagI387Valid) != 0)
        {
            d.Log.Limited($"d{d.Id}-i387", $"(d{d.Id}v{caller.Id}) VCPUOP_initialise: the FPU image is not loaded; vCPU {v.Id} starts with a clean FPU");
        }

        return 0;
    }

    private static ulong U64(byte[] ctx, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(ctx.AsSpan(offset));
}
