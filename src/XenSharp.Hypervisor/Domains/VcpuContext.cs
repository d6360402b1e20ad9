using XenSharp.Abi;

namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// A vCPU's whole architectural and PV state in one record: what Xen's XEN_DOMCTL_getvcpucontext returns in a
/// vcpu_guest_context (xen/include/public/arch-x86/xen.h) for a 64-bit PV vCPU — user_regs, flags (VGCF_in_kernel,
/// VGCF_syscall_disables_events), the FXSAVE image, trap table, LDT and GDT, kernel ss/sp, ctrlreg (CR0's TS, CR2, CR3
/// as frames, CR4), debug registers, callbacks, segment bases, vm_assist — plus what Xen keeps beside it (virtual
/// IOPL, syscall32/sysenter/NMI callbacks). RFLAGS carries the virtual IOPL, as Xen's arch_get_info_guest merges it.
/// Not in it, as in Xen: event state lives in the guest's vcpu_info (guest memory), and timers keep running
/// across a pause. Equality compares the arrays' contents, so get → set → get is checked with ==.
/// </summary>
public sealed record VcpuContext
{
    public ulong Rax { get; init; }
    public ulong Rbx { get; init; }
    public ulong Rcx { get; init; }
    public ulong Rdx { get; init; }
    public ulong Rsi { get; init; }
    public ulong Rdi { get; init; }
    public ulong Rbp { get; init; }
    public ulong Rsp { get; init; }
    public ulong R8 { get; init; }
    public ulong R9 { get; init; }
    public ulong R10 { get; init; }
    public ulong R11 { get; init; }
    public ulong R12 { get; init; }
    public ulong R13 { get; init; }
    public ulong R14 { get; init; }
    public ulong R15 { get; init; }
    public ulong Rip { get; init; }
    public ulong Rflags { get; init; }
    public ushort Cs { get; init; }
    public ushort Ss { get; init; }
    public ushort Ds { get; init; }
    public ushort Es { get; init; }
    public ushort Fs { get; init; }
    public ushort Gs { get; init; }
    public ulong FsBase { get; init; }
    public ulong GsBaseKernel { get; init; }
    public ulong GsBaseUser { get; init; }

    /// <summary>VGCF_in_kernel: guest kernel mode (its kernel page tables and GS).</summary>
    public bool InKernel { get; init; }

    /// <summary>Virtual CR0 (only TS is the guest's), CR2, CR4.</summary>
    public ulong Cr0 { get; init; }
    public ulong Cr2 { get; init; }
    public ulong Cr4 { get; init; }

    /// <summary>The kernel and user top-level tables as frame numbers (ctrlreg[3], ctrlreg[1]); user 0 = none.</summary>
    public ulong KernelCr3Frame { get; init; }
    public ulong UserCr3Frame { get; init; }

    /// <summary>DR0–DR7 as the guest set them (4 and 5 unused).</summary>
    public ulong[] DebugRegisters { get; init; } = new ulong[8];

    /// <summary>The x87/SSE state as a 512-byte FXSAVE image (fpu_ctxt).</summary>
    public byte[] Fxsave { get; init; } = new byte[VcpuMachineState.FxsaveSize];

    public TrapInfo[] TrapTable { get; init; } = new TrapInfo[256];
    public ulong EventCallback { get; init; }
    public ulong FailsafeCallback { get; init; }
    public ulong SyscallCallback { get; init; }

    /// <summary>VGCF_syscall_disables_events.</summary>
    public bool SyscallDisablesEvents { get; init; }
    public ulong Syscall32Callback { get; init; }
    public ulong SysenterCallback { get; init; }
    public ulong NmiCallback { get; init; }
    public ulong KernelSs { get; init; }
    public ulong KernelSp { get; init; }
    public ulong LdtBase { get; init; }
    public uint LdtEntries { get; init; }

    /// <summary>The GDT's frames (one per 512 entries) and its entry count.</summary>
    public ulong[] GdtFrames { get; init; } = [];
    public uint GdtEntries { get; init; }

    /// <summary>The domain's vm_assist (set only through vCPU 0, as Xen does).</summary>
    public ulong VmAssist { get; init; }

    public bool Equals(VcpuContext? other) =>
        other is not null
        && Rax == other.Rax && Rbx == other.Rbx && Rcx == other.Rcx && Rdx == other.Rdx && Rsi == other.Rsi
        && Rdi == other.Rdi && Rbp == other.Rbp && Rsp == other.Rsp && R8 == other.R8 && R9 == other.R9
        && R10 == other.R10 && R11 == other.R11 && R12 == other.R12 && R13 == other.R13 && R14 == other.R14
        && R15 == other.R15 && Rip == other.Rip && Rflags == other.Rflags && Cs == other.Cs && Ss == other.Ss
        && Ds == other.Ds && Es == other.Es && Fs == other.Fs && Gs == other.Gs && FsBase == other.FsBase
        && GsBaseKernel == other.GsBaseKernel && GsBaseUser == other.GsBaseUser && InKernel == other.InKernel
        && Cr0 == other.Cr0 && Cr2 == other.Cr2 && Cr4 == other.Cr4 && KernelCr3Frame == other.KernelCr3Frame
        && UserCr3Frame == other.UserCr3Frame && DebugRegisters.AsSpan().SequenceEqual(other.DebugRegisters)
        && Fxsave.AsSpan().SequenceEqual(other.Fxsave) && TrapTable.AsSpan().SequenceEqual(other.TrapTable)
        && EventCallback == other.EventCallback && FailsafeCallback == other.FailsafeCallback
        && SyscallCallback == other.SyscallCallback && SyscallDisablesEvents == other.SyscallDisablesEvents
        && Syscall32Callback == other.Syscall32Callback && SysenterCallback == other.SysenterCallback
        && NmiCallback == other.NmiCallback && KernelSs == other.KernelSs && KernelSp == other.KernelSp
        && LdtBase == other.LdtBase && LdtEntries == other.LdtEntries
        && GdtFrames.AsSpan().SequenceEqual(other.GdtFrames) && GdtEntries == other.GdtEntries
        && VmAssist == other.VmAssist;

    public override int GetHashCode() => HashCode.Combine(Rip, Rsp, Rax, KernelCr3Frame, InKernel);
}
