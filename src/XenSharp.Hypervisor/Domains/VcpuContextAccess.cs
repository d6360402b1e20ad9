using XenSharp.Abi;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv;
using XenSharp.Hypervisor.Pv.Emulation;
using XenSharp.Hypervisor.Pv.Mmu;
using XenSharp.Hypervisor.Pv.Policy;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// Reads and replaces a vCPU's whole state (<see cref="VcpuContext"/>) from wherever it lives: the stub frame
/// (registers), the data page and <see cref="Vcpu"/> (PV state), the MMU's per-vCPU state (GDT, LDT, base tables) and
/// the machine state its thread saved when it parked. Set checks first as Xen's arch_set_info_guest does (canonical
/// addresses, selectors, LDT/GDT bounds, debug registers, MXCSR) and changes nothing on a refusal; then the base tables
/// and the GDT take their typed references, each failure undoing the ones before; the rest cannot fail. Both run only
/// while the vCPU is quiescent (paused, or its thread not started or gone): Set says -EBUSY otherwise.
/// </summary>
internal static class VcpuContextAccess
{
    private const ulong Cr0Ts = 8;
    private const ulong MaxFrame = (1UL << 40) - 1;

    /// <summary>The machine state of a vCPU that has none saved (never ran): a reset FPU, as FNINIT/LDMXCSR leave it.</summary>
    private static VcpuMachineState ResetMachineState()
    {
        byte[] fx = new byte[VcpuMachineState.FxsaveSize];
        fx[0] = 0x7f; // FCW 0x037f
        fx[1] = 0x03;
        fx[24] = 0x80; // MXCSR 0x1f80
        fx[25] = 0x1f;
        fx[28] = 0xff; // MXCSR_MASK
        fx[29] = 0xff;
        return new VcpuMachineState(0, 0, 0, 0, 0, 0, 0, fx);
    }

    public static VcpuContext Get(Vcpu v)
    {
        Domain d = v.Domain;
        VcpuMachineState m = v.SavedMachineState ?? ResetMachineState();
        bool kernelGsActive = v.InKernelMode != v.SwapGsPending;
        ulong fs = m.FsBase;
        ulong gsKernel = kernelGsActive ? m.GsBase : m.ShadowGsBase;
        ulong gsUser = kernelGsActive ? m.ShadowGsBase : m.GsBase;
        if (v.PendingSegmentBases is { } b)
        {
            (fs, gsKernel, gsUser) = (b.Fs, b.GsKernel, b.GsUser);
        }

        VcpuMmuState mmu = d.Mmu.VcpuState(v.Id);
        int gdtFrames = (int)((mmu.GdtEntries + 511) / 512);
        ulong[] gdt = new ulong[gdtFrames];
        for (int i = 0; i < gdtFrames; i++)
        {
            gdt[i] = mmu.GdtFrames[i]?.Value ?? 0;
        }

        return new VcpuContext
        {
            Rax = v.FrameGet(StubFrame.Rax), Rbx = v.FrameGet(StubFrame.Rbx), Rcx = v.FrameGet(StubFrame.Rcx),
            Rdx = v.FrameGet(StubFrame.Rdx), Rsi = v.FrameGet(StubFrame.Rsi), Rdi = v.FrameGet(StubFrame.Rdi),
            Rbp = v.FrameGet(StubFrame.Rbp), Rsp = v.FrameGet(StubFrame.Rsp), R8 = v.FrameGet(StubFrame.R8),
            R9 = v.FrameGet(StubFrame.R9), R10 = v.FrameGet(StubFrame.R10), R11 = v.FrameGet(StubFrame.R11),
            R12 = v.FrameGet(StubFrame.R12), R13 = v.FrameGet(StubFrame.R13), R14 = v.FrameGet(StubFrame.R14),
            R15 = v.FrameGet(StubFrame.R15), Rip = v.FrameGet(StubFrame.Rip),
            Rflags = VcpuContextRules.GuestRflags(v, v.FrameGet(StubFrame.Rflags)),
            Cs = (ushort)v.FrameGet(StubFrame.Cs), Ss = (ushort)v.FrameGet(StubFrame.Ss),
            Ds = m.Ds, Es = m.Es, Fs = m.Fs, Gs = m.Gs,
            FsBase = fs, GsBaseKernel = gsKernel, GsBaseUser = gsUser,
            InKernel = v.InKernelMode,
            Cr0 = v.VirtualCr0, Cr2 = v.VirtualCr2, Cr4 = v.VirtualCr4,
            KernelCr3Frame = v.KernelL4.Value, UserCr3Frame = v.UserL4?.Value ?? 0,
            DebugRegisters = (ulong[])v.DebugRegisters.Clone(),
            Fxsave = (byte[])m.Fxsave.Clone(),
            TrapTable = (TrapInfo[])v.TrapTable.Clone(),
            EventCallback = v.EventCallback, FailsafeCallback = v.FailsafeCallback, SyscallCallback = v.SyscallCallback,
            SyscallDisablesEvents = v.SyscallCallbackMasksEvents, Syscall32Callback = v.Syscall32Callback,
            SysenterCallback = v.SysenterCallback, NmiCallback = v.NmiCallback,
            KernelSs = v.KernelSs, KernelSp = v.KernelSp,
            LdtBase = mmu.LdtBase, LdtEntries = mmu.LdtEntries,
            GdtFrames = gdt, GdtEntries = mmu.GdtEntries,
            VmAssist = d.VmAssist,
        };
    }

    public static int Set(Vcpu v, VcpuContext c)
    {
        if (!v.Lifecycle.IsQuiescent)
        {
            return -XenErrno.EBUSY;
        }

        VcpuMachineState current = v.SavedMachineState ?? ResetMachineState();
        int rc = Check(v, c, current);
        if (rc != 0)
        {
            return rc;
        }

        rc = TakeReferences(v, c);
        if (rc != 0)
        {
            return rc;
        }

        Apply(v, c, current);
        return 0;
    }

    /// <summary>Every check that needs no reference: the record's shape, addresses, selectors, bounds, flags.</summary>
    internal static int Check(Vcpu v, VcpuContext c, VcpuMachineState current)
    {
        if (c.DebugRegisters is not { Length: 8 } dr || c.Fxsave is not { Length: VcpuMachineState.FxsaveSize } fx
            || c.TrapTable is not { Length: 256 } traps || c.GdtFrames is null)
        {
            return -XenErrno.EINVAL;
        }

        ulong[] canonical =
        [
            c.Rip, c.Rsp, c.KernelSp, c.FsBase, c.GsBaseKernel, c.GsBaseUser, c.EventCallback, c.FailsafeCallback,
            c.SyscallCallback, c.Syscall32Callback, c.SysenterCallback, c.NmiCallback,
        ];
        foreach (ulong a in canonical)
        {
            if (!GuestPageWalker.IsCanonical(a))
            {
                return -XenErrno.EINVAL;
            }
        }

        foreach (TrapInfo t in traps)
        {
            if (!GuestPageWalker.IsCanonical(t.Address))
            {
                return -XenErrno.EINVAL;
            }
        }

        if (!CodeOrStackSelectorOk(c.Cs) || !CodeOrStackSelectorOk(c.Ss) || !CodeOrStackSelectorOk((ushort)c.KernelSs)
            || c.KernelSs > ushort.MaxValue)
        {
            return -XenErrno.EINVAL;
        }

        // The machine loads data segments from descriptors it already holds: a selector stays as it was or becomes null.
        if (!DataSelectorOk(c.Ds, current.Ds) || !DataSelectorOk(c.Es, current.Es)
            || !DataSelectorOk(c.Fs, current.Fs) || !DataSelectorOk(c.Gs, current.Gs))
        {
            return -XenErrno.EINVAL;
        }

        if (!VcpuContextRules.DebugRegistersOk(dr))
        {
            return -XenErrno.EINVAL;
        }

        uint mxcsr = BitConverter.ToUInt32(fx, 24);
        if ((mxcsr & 0xffff0000) != 0)
        {
            return -XenErrno.EINVAL;
        }

        if (!VcpuContextRules.LdtOk(c.LdtBase, c.LdtEntries))
        {
            return -XenErrno.EINVAL;
        }

        if (c.GdtEntries > XenSelectors.FirstReservedGdtEntry || c.GdtFrames.Length != (int)((c.GdtEntries + 511) / 512))
        {
            return -XenErrno.EINVAL;
        }

        if (c.KernelCr3Frame == 0 || c.KernelCr3Frame > MaxFrame || c.UserCr3Frame > MaxFrame
            || (!c.InKernel && c.UserCr3Frame == 0))
        {
            return -XenErrno.EINVAL; // no kernel tables, or user mode with no user tables
        }

        foreach (ulong f in c.GdtFrames)
        {
            if (f > MaxFrame)
            {
                return -XenErrno.EINVAL;
            }
        }

        if (!VcpuContextRules.VmAssistOk(v, c.VmAssist))
        {
            return -XenErrno.EINVAL;
        }

        return 0;
    }

    /// <summary>
    /// A 64-bit PV guest's code or stack selector: RPL 3, not null, and not one of the hypervisor's own (only Xen's
    /// flat ring-3 selectors in the reserved range).
    /// </summary>
    internal static bool CodeOrStackSelectorOk(ushort s)
    {
        if ((s & 3) != 3 || (s & ~3) == 0)
        {
            return false;
        }

        return s < XenSelectors.FirstReservedGdtByte
            || s is XenSelectors.FlatRing3Cs32 or XenSelectors.FlatRing3Ds or XenSelectors.FlatRing3Cs64;
    }

    private static bool DataSelectorOk(ushort s, ushort current) => s == current || s == 0;

    /// <summary>Kernel base table, user base table, GDT; each failure undoes the ones before.</summary>
    private static int TakeReferences(Vcpu v, VcpuContext c)
    {
        DomainMmu mmu = v.Domain.Mmu;
        Mfn oldKernel = v.KernelL4;
        ulong oldUser = v.UserL4?.Value ?? 0;
        int rc = mmu.NewBasePtr(v, new Mfn(c.KernelCr3Frame));
        if (rc != 0)
        {
            return rc;
        }

        rc = mmu.NewUserBasePtr(v, c.UserCr3Frame);
        if (rc != 0)
        {
            RestoreKernel(v, oldKernel);
            return rc;
        }

        VcpuMmuState s = mmu.VcpuState(v.Id);
        if (SameGdt(s, c))
        {
            return 0;
        }

        ulong[] oldGdt = new ulong[(s.GdtEntries + 511) / 512];
        for (int i = 0; i < oldGdt.Length; i++)
        {
            oldGdt[i] = s.GdtFrames[i]?.Value ?? 0;
        }

        uint oldEntries = s.GdtEntries;
        rc = mmu.SetGdt(v, c.GdtFrames, c.GdtEntries);
        if (rc != 0)
        {
            mmu.NewUserBasePtr(v, oldUser);
            RestoreKernel(v, oldKernel);
            return rc;
        }

        _ = oldEntries;
        return 0;
    }

    private static bool SameGdt(VcpuMmuState s, VcpuContext c)
    {
        if (s.GdtEntries != c.GdtEntries)
        {
            return false;
        }

        for (int i = 0; i < c.GdtFrames.Length; i++)
        {
            if (s.GdtFrames[i]?.Value != c.GdtFrames[i])
            {
                return false;
            }
        }

        return true;
    }

    private static void RestoreKernel(Vcpu v, Mfn oldKernel)
    {
        if (oldKernel.Value != 0)
        {
            v.Domain.Mmu.NewBasePtr(v, oldKernel); // it held this type a moment ago: taking it again succeeds
        }
        else
        {
            v.Domain.Mmu.ReleaseBaseTables(v);
        }
    }

    /// <summary>The rest of the state; nothing here can fail (all checked).</summary>
    private static void Apply(Vcpu v, VcpuContext c, VcpuMachineState current)
    {
        Domain d = v.Domain;
        if (v.Id == 0)
        {
            d.VmAssist = c.VmAssist;
        }

        v.SetKernelMode(c.InKernel);
        v.LoadCr3(v.CurrentL4);
        v.SwapGsPending = false; // the machine's GS bases are written below for the mode the context names
        for (int i = 0; i < 256; i++)
        {
            TrapInfo t = c.TrapTable[i];
            v.TrapTable[i] = t.Address == 0 ? default : t with { Vector = (byte)i, Cs = (ushort)(t.Cs | 3) };
        }

        d.Mmu.SetLdt(v, c.LdtEntries != 0 ? c.LdtBase : 0, c.LdtEntries); // checked: cannot fail
        v.KernelSs = c.KernelSs | 3;
        v.KernelSp = c.KernelSp;
        v.EventCallback = c.EventCallback;
        v.FailsafeCallback = c.FailsafeCallback;
        v.SyscallCallback = c.SyscallCallback;
        v.SyscallCallbackMasksEvents = c.SyscallDisablesEvents;
        v.Syscall32Callback = c.Syscall32Callback;
        v.SysenterCallback = c.SysenterCallback;
        v.NmiCallback = c.NmiCallback;
        v.VirtualCr0 = (v.VirtualCr0 & ~Cr0Ts) | (c.Cr0 & Cr0Ts);
        v.VirtualCr2 = c.Cr2; // CR4 is the hypervisor's to choose for a PV guest (Xen recomputes it): kept

        VcpuContextRules.LoadDebugRegisters(v, c.DebugRegisters);

        ulong rflags = VcpuContextRules.LoadRflags(v, c.Rflags);
        v.FrameSet(StubFrame.Rip, c.Rip);
        v.FrameSet(StubFrame.Cs, c.Cs);
        v.FrameSet(StubFrame.Rflags, rflags);
        v.FrameSet(StubFrame.Rsp, c.Rsp);
        v.FrameSet(StubFrame.Ss, c.Ss);
        Span<(int Frame, ulong Value)> gprs =
        [
            (StubFrame.Rax, c.Rax), (StubFrame.Rbx, c.Rbx), (StubFrame.Rcx, c.Rcx), (StubFrame.Rdx, c.Rdx),
            (StubFrame.Rsi, c.Rsi), (StubFrame.Rdi, c.Rdi), (StubFrame.Rbp, c.Rbp), (StubFrame.R8, c.R8),
            (StubFrame.R9, c.R9), (StubFrame.R10, c.R10), (StubFrame.R11, c.R11), (StubFrame.R12, c.R12),
            (StubFrame.R13, c.R13), (StubFrame.R14, c.R14), (StubFrame.R15, c.R15),
        ];
        foreach ((int frame, ulong value) in gprs)
        {
            v.FrameSet(frame, value);
        }

        v.PendingSegmentBases = null;
        v.SetPendingMachineState(new VcpuMachineState(
            c.FsBase,
            c.InKernel ? c.GsBaseKernel : c.GsBaseUser,
            c.InKernel ? c.GsBaseUser : c.GsBaseKernel,
            c.Ds, c.Es, c.Fs, c.Gs,
            (byte[])c.Fxsave.Clone()));
        _ = current;
    }
}
