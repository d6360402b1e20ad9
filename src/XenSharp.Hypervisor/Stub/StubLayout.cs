namespace XenSharp.Hypervisor.Stub;

/// <summary>
/// Where the ring-0 stub lives in every guest address space (hypervisor L4 slot 261, supervisor-only), and the
/// layout of each vCPU's window there. The same virtual layout holds in every domain; per-domain tables point the
/// per-vCPU windows at that domain's own frames.
/// </summary>
internal static class StubLayout
{
    public const ulong Base = 0xffff828000000000;
    public const int L4Slot = 261;

    public const ulong CodeOffset = 0x0;
    public const int MaxCodePages = 15;
    public const ulong IdtOffset = 0xf000;

    public const ulong WindowsOffset = 0x200000;
    public const ulong WindowSize = 0x20000;
    public const int MaxVcpus = 16;

    // Inside a window.
    public const ulong GdtReservedPageOffset = 0xe000;   // GDT page 14: Xen's reserved selectors
    public const ulong DataPageOffset = 0xf000;          // TSS at 0, then the per-vCPU fields below
    public const ulong StackOffset = 0x10000;
    public const int StackPages = 4;
    public const ulong StackTopOffset = StackOffset + StackPages * 0x1000;
    public const ushort GdtLimit = 0xefff;

    // Per-vCPU fields in the data page.
    public const int TssSize = 0x68;
    public const int DataScratchRsp = 0x100;
    public const int DataKernelMode = 0x108;
    public const int DataVcpuId = 0x110;

    /// <summary>Requests the host leaves for the stub to carry out in ring 0 on its way back to the guest.</summary>
    public const int DataPendingCr3 = 0x118;   // non-zero: load this CR3 (also flushes the TLB)
    public const int DataFlushTlb = 0x120;     // byte: reload CR3 to flush the TLB
    public const int DataSwapGs = 0x121;       // byte: swapgs (the guest switched between kernel and user mode)
    public const int DataRequests = 0x122;     // byte: any request above (or below) is pending; one test on the fast return
    public const int DataFpuTs = 0x123;        // byte: the real CR0.TS the guest's virtual TS asks for (fpu_taskswitch)

    // Mirrors of Xen state the stub's fast paths (guest system call bounce, iret) need; written by the host.
    public const int DataKernelCr3 = 0x128;
    public const int DataUserCr3 = 0x130;      // 0: the guest registered no user page tables
    public const int DataKernelSp = 0x138;
    public const int DataSyscallCallback = 0x140;
    public const int DataSyscallMasks = 0x148; // byte: CALLBACKF_mask_events on the syscall callback
    public const int DataSlowPath = 0x149;     // byte: fast paths off (e.g. architectural IOPL, which only the host models)
    public const int DataVcpuInfo = 0x150;     // stub address of this vCPU's vcpu_info
    public const int DataExitTsc = 0x158;      // the guest TSC at the last exit to the host (rdtsc in the stub)

    // Port I/O the stub answers without leaving the VM (StubPortIo): mirrors of Xen state the host writes, and the
    // stub's own count of what it answered.
    public const int DataVirtualIopl = 0x168;  // byte: the vCPU's virtual IOPL (PHYSDEVOP_set_iopl), 0-3
    public const int DataIoBreakpoints = 0x169; // byte: emulated DR7 I/O breakpoints are armed (port I/O goes to the host)
    public const int DataPortIoInVm = 0x170;   // u64: port I/O instructions the stub answered; only the stub writes it

    // Hypercalls the stub answers without leaving the VM (StubHypercalls): the kernel stack stack_switch sets (the SP
    // above, and its SS here: the data page holds the truth for both), and the stub's own counts.
    public const int DataKernelSs = 0x178;
    public const int DataSegmentBaseInVm = 0x180; // u64: set_segment_base calls answered; only the stub writes it
    public const int DataStackSwitchInVm = 0x188; // u64: stack_switch calls answered; only the stub writes it

    // Page-table entries the host rewrote, for the stub to write again from inside the VM (shadow-paging KVM).
    public const int DataResyncCount = 0x160;  // u32
    public const int DataResyncMore = 0x164;   // byte: more are pending; exit again after this batch
    public const int DataResyncList = 0x200;   // u64 machine addresses (bit 0: the whole frame)
    public const int ResyncCapacity = 440;

    /// <summary>The domain's shared_info page, mapped in each window so the stub can read event state.</summary>
    public const ulong SharedInfoOffset = 0x14000;

    public static ulong Window(int vcpu) => Base + WindowsOffset + ((ulong)vcpu * WindowSize);

    public static ulong GdtBase(int vcpu) => Window(vcpu);

    public static ulong DataPage(int vcpu) => Window(vcpu) + DataPageOffset;

    public static ulong StackTop(int vcpu) => Window(vcpu) + StackTopOffset;

    public static ulong FrameAddress(int vcpu) => StackTop(vcpu) - (ulong)StubFrame.Size;

    /// <summary>Distance from the frame base (RSP in the stub's common path) to the data page.</summary>
    public const int FrameToData = StubFrame.Size - (int)(StackTopOffset - DataPageOffset);
}
