using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv;
using XenSharp.Hypervisor.Stub;
using XenSharp.Hypervisor.Time;

namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// A virtual CPU's Xen-visible state. Its guest registers live in the stub frame at the top of its ring-0 stack while
/// it is in the host; <see cref="FrameGet"/>/<see cref="FrameSet"/> read and edit them there.
/// Threads: its own thread (the machine's KVM_RUN loop) runs its hypercalls and owns its registers and machine state
/// while it runs; other vCPUs of the domain bring it up or down, initialise it and set its periodic timer
/// (VCPUOP_*, through <see cref="Lifecycle"/>); event senders on any thread <see cref="Kick"/> it; the timer thread
/// fires its timers; a controller (Domain.Pause) reads and sets its whole context only while it is paused and
/// quiescent (<see cref="GetContext"/>, <see cref="SetContext"/>). Its lifecycle is <see cref="Lifecycle"/>.
/// </summary>
internal sealed class Vcpu
{
    private readonly ulong _frameAddress;

    internal Vcpu(Domain domain, int id)
    {
        Domain = domain;
        Id = id;
        _frameAddress = domain.StubPages.FrameMachineAddress(id);
        Timers = new VcpuTimers(this, domain.Hypervisor.Timers);
        Runstate = new VcpuRunstate(RunstateLayout.Offline, domain.Hypervisor.Clock.Now);
        SchedUnit = new Scheduling.SchedUnit(domain.Id, id);
    }

    /// <summary>This vCPU as the scheduler sees it.</summary>
    internal Scheduling.SchedUnit SchedUnit { get; }

    private Scheduling.VcpuScheduling? Scheduler => Domain.Hypervisor.Scheduling;

    public Domain Domain { get; }

    public int Id { get; }

    /// <summary>Its state (offline, runnable, running, blocked, paused) and the legal moves between them.</summary>
    public VcpuLifecycle Lifecycle { get; } = new();

    [ThreadStatic]
    private static Vcpu? t_current;

    /// <summary>The vCPU whose thread this is (Xen's <c>current</c>), or null on any other thread.</summary>
    public static Vcpu? Current => t_current;

    /// <summary>Its machine thread calls this first: the thread is the vCPU's from now on.</summary>
    public void BindToCurrentThread() => t_current = this;

    private Mfn _kernelL4;
    private Mfn? _userL4;
    private ulong _syscallCallback;
    private bool _syscallMasks;

    /// <summary>The guest kernel's top-level table (CR3 while in kernel mode).</summary>
    public Mfn KernelL4
    {
        get => _kernelL4;
        set
        {
            _kernelL4 = value;
            DataSet(StubLayout.DataKernelCr3, value.Address);
        }
    }

    /// <summary>The guest's user-mode top-level table (MMUEXT_NEW_USER_BASEPTR), if it registered one.</summary>
    public Mfn? UserL4
    {
        get => _userL4;
        set
        {
            _userL4 = value;
            DataSet(StubLayout.DataUserCr3, value?.Address ?? 0);
        }
    }

    /// <summary>Guest kernel or user mode. The stub's fast paths switch it too, so the data page holds the truth.</summary>
    public bool InKernelMode => DataPage[StubLayout.DataKernelMode] != 0;

    /// <summary>The kernel stack's SS (stack_switch). The stub answers stack_switch itself, so the data page holds the truth.</summary>
    public ulong KernelSs
    {
        get => DataGet(StubLayout.DataKernelSs);
        set => DataSet(StubLayout.DataKernelSs, value);
    }

    /// <summary>The kernel stack for a bounce from user mode (stack_switch). The stub answers stack_switch itself, so the data page holds the truth.</summary>
    public ulong KernelSp
    {
        get => DataGet(StubLayout.DataKernelSp);
        set => DataSet(StubLayout.DataKernelSp, value);
    }

    public TrapInfo[] TrapTable { get; } = new TrapInfo[256];

    public ulong EventCallback { get; set; }

    public ulong FailsafeCallback { get; set; }

    public ulong SyscallCallback
    {
        get => _syscallCallback;
        set
        {
            _syscallCallback = value;
            DataSet(StubLayout.DataSyscallCallback, value);
        }
    }

    /// <summary>CALLBACKF_mask_events on the syscall callback: mask events while entering it.</summary>
    public bool SyscallCallbackMasksEvents
    {
        get => _syscallMasks;
        set
        {
            _syscallMasks = value;
            DataPage[StubLayout.DataSyscallMasks] = value ? (byte)1 : (byte)0;
        }
    }

    /// <summary>Turns the stub's fast paths off for state only the host models (architectural IOPL).</summary>
    public void SetSlowPathOnly(bool slow) => DataPage[StubLayout.DataSlowPath] = slow ? (byte)1 : (byte)0;

    public ulong Syscall32Callback { get; set; }

    public ulong SysenterCallback { get; set; }

    public ulong NmiCallback { get; set; }

    /// <summary>Virtual control registers: CR0 (only TS is the guest's), CR2 (the last #PF address delivered), CR4.</summary>
    public ulong VirtualCr0
    {
        get => _virtualCr0;
        set
        {
            // The real CR0.TS follows the virtual one, so the guest's FPU use raises #NM as Xen's fpu_taskswitch promises.
            if (((value ^ _virtualCr0) & Cr0Ts) != 0)
            {
                DataPage[StubLayout.DataFpuTs] = (value & Cr0Ts) != 0 ? (byte)1 : (byte)0;
                RequestStub();
            }

            _virtualCr0 = value;
        }
    }

    private const ulong Cr0Ts = 8;
    private ulong _virtualCr0 = 0x80050033;

    public ulong VirtualCr2 { get; set; }

    public ulong VirtualCr4 { get; set; } = 0x660; // PAE MCE OSFXSR OSXMMEXCPT, as Xen shows a PV guest

    /// <summary>Virtual IOPL (PHYSDEVOP_set_iopl), 0–3; the real IOPL is always 0. Mirrored for the stub's port I/O.</summary>
    public int VirtualIopl
    {
        get => _virtualIopl;
        set
        {
            _virtualIopl = value;
            DataPage[StubLayout.DataVirtualIopl] = (byte)value;
        }
    }

    private int _virtualIopl;

    /// <summary>Whether emulated DR7 I/O breakpoints are armed: the stub then leaves every port access to the host.</summary>
    public void SetIoBreakpointsArmed(bool armed) => DataPage[StubLayout.DataIoBreakpoints] = armed ? (byte)1 : (byte)0;

    /// <summary>Debug registers DR0–DR7 as the guest set them (set_debugreg).</summary>
    public ulong[] DebugRegisters { get; } = [0, 0, 0, 0, 0xffff0ff0, 0x400, 0xffff0ff0, 0x400];

    /// <summary>Privileged-op emulation state: I/O bitmap, emulated DR7 I/O breakpoints, per-vCPU MSRs (Pv/Emulation).</summary>
    public Pv.Emulation.PvEmulationState Emulation { get; } = new();

    /// <summary>Set when <see cref="DebugRegisters"/> changed: the machine loads them before the guest runs again.</summary>
    public bool DebugRegistersDirty { get; set; }

    /// <summary>Machine operations that need the vCPU's KVM state (MSRs); set by the machine layer.</summary>
    public IVcpuMachine? Machine { get; set; }

    /// <summary>Set when its domain ends (any thread) to stop this vCPU; its thread checks it after every exit and wait.</summary>
    public bool StopRequested
    {
        get => Lifecycle.IsStopRequested;
        set
        {
            if (value)
            {
                Lifecycle.RequestStop();
                Kick(interrupt: false);
            }
            else
            {
                Lifecycle.ClearStop();
            }
        }
    }

    /// <summary>Signalled when something the vCPU may be blocked on changes (events, stop).</summary>
    public SemaphoreSlim Wake { get; } = new(0);

    /// <summary>set_timer_op / VCPUOP timers and the SCHEDOP_poll timeout.</summary>
    public VcpuTimers Timers { get; }

    /// <summary>vcpu_runstate_info: time spent running, blocked, offline.</summary>
    public VcpuRunstate Runstate { get; }

    /// <summary>The guest-virtual address of its registered vcpu_runstate_info copy (VCPUOP_register_runstate_memory_area), 0 = none.</summary>
    public ulong RunstateArea { get; set; }

    /// <summary>The guest-virtual address of its secondary vcpu_time_info (VCPUOP_register_vcpu_time_memory_area), 0 = none.</summary>
    public ulong TimeArea { get; set; }

    /// <summary>VCPUOP_initialise (or the domain builder, for vCPU 0) gave it a context.</summary>
    public bool IsInitialised => Lifecycle.IsInitialised;

    /// <summary>Not "down": it runs, or is blocked, or waits for its thread to start. Only vCPU 0 starts up.</summary>
    public bool IsUp => Lifecycle.IsUp;

    /// <summary>In SCHEDOP_block or SCHEDOP_poll: not running guest code, woken through <see cref="Wake"/>.</summary>
    public bool IsBlocked => Lifecycle.State == VcpuState.Blocked;

    private ulong? _vcpuInfoAddress;

    /// <summary>The machine address of its vcpu_info once the guest moved it (VCPUOP_register_vcpu_info).</summary>
    public ulong? RegisteredVcpuInfo => _vcpuInfoAddress;

    /// <summary>
    /// Its vcpu_info: the shared_info slot, or the area the guest registered. Empty for a vCPU past shared_info's 32
    /// slots that has not registered one (Xen's dummy vcpu_info): events still set their shared_info bits.
    /// </summary>
    public Span<byte> VcpuInfo => _vcpuInfoAddress is { } a
        ? Domain.Pool.Memory.GetSpan(a, SharedInfoLayout.VcpuInfoSize)
        : Id < SharedInfoLayout.LegacyMaxVcpus
            ? Domain.SharedInfoPage.Slice(Id * SharedInfoLayout.VcpuInfoSize, SharedInfoLayout.VcpuInfoSize)
            : default;

    /// <summary>
    /// Moves its vcpu_info to machine address <paramref name="address"/> (validated and typed by the caller): the old
    /// contents are copied, every event selector is marked pending so nothing raised before is lost (as Xen does), and
    /// the stub is pointed at the new place through the domain's direct map.
    /// </summary>
    public void MoveVcpuInfo(ulong address)
    {
        Span<byte> old = VcpuInfo;
        Span<byte> target = Domain.Pool.Memory.GetSpan(address, SharedInfoLayout.VcpuInfoSize);
        if (old.IsEmpty)
        {
            target.Clear();
            target[SharedInfoLayout.UpcallMask] = 1;
        }
        else
        {
            old.CopyTo(target);
        }

        _vcpuInfoAddress = address;
        BinaryPrimitives.WriteUInt64LittleEndian(target[SharedInfoLayout.PendingSel..], ulong.MaxValue);
        target[SharedInfoLayout.UpcallPending] = 1;
        DataSet(StubLayout.DataVcpuInfo, DirectMap.Base + address);
        PublishTime();
    }

    /// <summary>Writes the domain's time scale into its vcpu_info and its registered secondary copy.</summary>
    public void PublishTime()
    {
        Span<byte> info = VcpuInfo;
        if (!info.IsEmpty && Domain.Time.Calibrated)
        {
            Domain.Time.WriteTimeInfo(info.Slice(SharedInfoLayout.Time, SharedInfoLayout.TimeInfoSize));
        }

        if (TimeArea != 0 && Domain.Time.Calibrated)
        {
            Span<byte> copy = stackalloc byte[SharedInfoLayout.TimeInfoSize];
            copy.Clear();
            Domain.Time.WriteTimeInfo(copy);
            CopyToGuest(TimeArea, copy); // the guest's to keep mapped; a stale address is its problem, as in Xen
        }
    }

    /// <summary>Set by the machine while the vCPU's thread handles an exit: the stub recorded the guest's TSC at it.</summary>
    public bool InExit { get; set; }

    /// <summary>
    /// The guest's TSC with the host time it was read at (on the vCPU's thread; the host clock if no machine). While
    /// handling an exit: the TSC the stub read at the exit (exactly the guest's view; no system call). Otherwise
    /// (before the first run, after a block): IA32_TSC through KVM.
    /// </summary>
    public TscSample SampleTime()
    {
        IHostClock host = Domain.Hypervisor.Clock.Host;
        if (Machine is not { } m)
        {
            return new TscSample(0, host.NowNanoseconds);
        }

        if (InExit)
        {
            return new TscSample(BinaryPrimitives.ReadUInt64LittleEndian(DataPage[StubLayout.DataExitTsc..]), host.NowNanoseconds);
        }

        long before = host.NowNanoseconds;
        ulong tsc = m.ReadTsc();
        long after = host.NowNanoseconds;
        return new TscSample(tsc, before + ((after - before) / 2));
    }

    /// <summary>Now, as the guest's own clock reads it and on the host clock (on the vCPU's thread).</summary>
    public TimePoint Now()
    {
        TscSample s = SampleTime();
        return new TimePoint(Domain.Time.Now(s), s.HostNs);
    }

    /// <summary>System time now, as the guest's own clock reads it (on the vCPU's thread).</summary>
    public ulong SystemTimeNow() => Now().SystemNs;

    /// <summary>
    /// An event became pending for this vCPU: wakes it if blocked, and with <paramref name="interrupt"/> (its upcall
    /// went pending) also interrupts it if it is inside the guest, so the upcall is delivered now (Xen's vcpu_kick).
    /// Skipped, as Xen skips <c>current</c>: the calling vCPU itself and one already out of the guest (handling an
    /// exit, blocked, parked, offline): each checks for a deliverable upcall before it enters the guest again, after
    /// a full barrier (<see cref="VcpuLifecycle.SetInGuest"/>), so the event is not lost.
    /// </summary>
    public void Kick(bool interrupt)
    {
        if (Wake.CurrentCount == 0)
        {
            Wake.Release();
        }

        if (!Lifecycle.IsPauseRequested)
        {
            Scheduler?.Allocator.Wake(SchedUnit); // runnable now: a slot may be taken for it before its thread runs
        }

        if (!interrupt || ReferenceEquals(t_current, this))
        {
            return;
        }

        Interlocked.MemoryBarrier(); // the pending bits the caller set are visible before we read the flag
        if (Lifecycle.InGuest)
        {
            Machine?.Kick();
        }
    }

    /// <summary>Xen's local_events_need_delivery: an upcall is pending and not masked.</summary>
    public bool UpcallDeliverable
    {
        get
        {
            Span<byte> info = VcpuInfo;
            return !info.IsEmpty && Volatile.Read(ref info[SharedInfoLayout.UpcallPending]) != 0
                && Volatile.Read(ref info[SharedInfoLayout.UpcallMask]) == 0;
        }
    }

    /// <summary>The SCHEDOP_poll timeout expired.</summary>
    internal void WakeFromPoll()
    {
        PollTimedOut = true;
        if (Wake.CurrentCount == 0)
        {
            Wake.Release();
        }
    }

    internal volatile bool PollTimedOut;

    /// <summary>
    /// Own thread, before each KVM_RUN: returns once the vCPU holds a physical-CPU slot, handing its slot on first if
    /// it was preempted. While it waits its runstate is runnable (the guest's running time does not advance). False
    /// when the domain ended meanwhile.
    /// </summary>
    internal bool WaitForSlot()
    {
        Scheduling.VcpuScheduling? s = Scheduler;
        if (s is null || s.Allocator.TryEnterRun(SchedUnit))
        {
            return true;
        }

        Lifecycle.Deschedule();
        TimePoint waitStart = Now();
        ChangeRunstate(RunstateLayout.Runnable, waitStart);
        bool granted = s.Allocator.EnterRun(SchedUnit);
        Lifecycle.Reschedule();

        // Running from the moment the slot was granted (the allocator's clock is the host clock), as the scheduler
        // charges it; the time this thread then took to wake is the switch's cost, not time spent waiting.
        TimePoint now = NowAfterWait(waitStart);
        long sinceGrant = now.HostNs - SchedUnit.StateEntryNs;
        if (granted && sinceGrant > 0 && (ulong)sinceGrant < now.SystemNs - waitStart.SystemNs)
        {
            now = now with { SystemNs = now.SystemNs - (ulong)sinceGrant };
        }

        ChangeRunstate(RunstateLayout.Running, now);
        return granted;
    }

    /// <summary>
    /// Now, for a vCPU that waited out of the guest since <paramref name="since"/>. Where the host's TSC is unstable,
    /// KVM stops a vCPU's TSC while it is out of KVM_RUN and catches it up only at the next entry (seen on kvm_amd
    /// under QEMU): a read now still shows the moment it stopped. The host clock measured the wait; system time is
    /// at least that far on.
    /// </summary>
    private TimePoint NowAfterWait(TimePoint since)
    {
        TimePoint now = Now();
        ulong floor = since.SystemNs + (ulong)Math.Max(0, now.HostNs - since.HostNs);
        return now.SystemNs < floor ? now with { SystemNs = floor } : now;
    }

    /// <summary>Told to give its slot up (read after entering the guest, to catch a preemption that missed the kick).</summary>
    internal bool PreemptPending => SchedUnit.PreemptPending;

    /// <summary>Enters SCHEDOP_block/poll: the vCPU stops running guest code (runstate blocked).</summary>
    public void BeginBlock()
    {
        Scheduler?.Allocator.Block(SchedUnit); // its slot goes to the next runnable vCPU
        Lifecycle.Block();
        _blockedAt = Now();
        ChangeRunstate(RunstateLayout.Blocked, _blockedAt);
    }

    private TimePoint _blockedAt;

    /// <summary>
    /// Leaves SCHEDOP_block/poll: running again; a periodic tick that came due meanwhile is sent now. While the vCPU
    /// is paused it stays blocked (parked) and leaves only once unpaused.
    /// </summary>
    public void EndBlock()
    {
        while (!Lifecycle.TryWake())
        {
            ParkBlocked();
        }

        TimePoint now = NowAfterWait(_blockedAt);
        ChangeRunstate(RunstateLayout.Running, now);
        Timers.OnWake(now);
    }

    /// <summary>Records a runstate change and copies the record to the guest's registered area, if any.</summary>
    public void ChangeRunstate(int state, TimePoint? at = null)
    {
        Runstate.Change(state, (at ?? Now()).SystemNs);
        WriteRunstateArea();
    }

    /// <summary>
    /// Copies vcpu_runstate_info to the registered area. With VMASST_TYPE_runstate_update_flag the guest sees
    /// XEN_RUNSTATE_UPDATE in state_entry_time while the copy is in progress, so it can tell a torn read.
    /// </summary>
    public void WriteRunstateArea()
    {
        ulong area = RunstateArea;
        if (area == 0)
        {
            return;
        }

        Span<byte> info = stackalloc byte[RunstateLayout.Size];
        Runstate.WriteTo(info);
        bool flag = (Domain.VmAssist & (1UL << VmAssist.TypeRunstateUpdateFlag)) != 0;
        if (!flag)
        {
            CopyToGuest(area, info);
            return;
        }

        ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(info[RunstateLayout.StateEntryTime..]);
        Span<byte> word = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(word, entry | RunstateLayout.UpdateFlag);
        if (!CopyToGuest(area + RunstateLayout.StateEntryTime, word))
        {
            return;
        }

        Interlocked.MemoryBarrier();
        BinaryPrimitives.WriteUInt64LittleEndian(info[RunstateLayout.StateEntryTime..], entry | RunstateLayout.UpdateFlag);
        CopyToGuest(area, info);
        Interlocked.MemoryBarrier();
        BinaryPrimitives.WriteUInt64LittleEndian(word, entry);
        CopyToGuest(area + RunstateLayout.StateEntryTime, word);
    }

    public Mfn CurrentL4 => InKernelMode ? KernelL4 : UserL4 ?? KernelL4;

    public ulong FrameGet(int offset) =>
        BinaryPrimitives.ReadUInt64LittleEndian(Domain.Pool.Memory.GetSpan(_frameAddress + (ulong)offset, 8));

    public void FrameSet(int offset, ulong value) =>
        BinaryPrimitives.WriteUInt64LittleEndian(Domain.Pool.Memory.GetSpan(_frameAddress + (ulong)offset, 8), value);

    public void SetKernelMode(bool kernel) => Domain.StubPages.SetKernelMode(Id, kernel);

    /// <summary>Switches between guest kernel and user mode as Xen's toggle_guest_mode does: page tables and GS base.</summary>
    public void ToggleGuestMode()
    {
        SetKernelMode(!InKernelMode);
        LoadCr3(CurrentL4);
        Span<byte> data = DataPage;
        data[StubLayout.DataSwapGs] ^= 1;
        RequestStub();
    }

    /// <summary>Has the stub load this top-level table into CR3 on its way back to the guest (flushing the TLB).</summary>
    public void LoadCr3(Mfn l4)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(DataPage[StubLayout.DataPendingCr3..], l4.Address);
        RequestStub();
    }

    /// <summary>Lists page-table entries (machine addresses; bit 0 = whole frame) for the stub to rewrite before it returns.</summary>
    public void QueueResync(ReadOnlySpan<ulong> writes, bool more)
    {
        Span<byte> data = DataPage;
        for (int i = 0; i < writes.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(data[(StubLayout.DataResyncList + (i * 8))..], writes[i]);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(data[StubLayout.DataResyncCount..], (uint)writes.Length);
        data[StubLayout.DataResyncMore] = more ? (byte)1 : (byte)0;
        RequestStub();
    }

    /// <summary>Has the stub flush this vCPU's TLB before it returns to the guest.</summary>
    public void RequestTlbFlush()
    {
        DataPage[StubLayout.DataFlushTlb] = 1;
        RequestStub();
    }

    /// <summary>
    /// Another vCPU's flush, as Xen's flush_tlb_mask: synchronous. The flush byte is set; a vCPU inside the guest is
    /// kicked out and this returns only once it has left the guest (it flushes on its way back in, as every entry
    /// after the byte was set does), so no stale translation of this vCPU is used after the caller's hypercall returns.
    /// On the vCPU itself, or one out of the guest, it only sets the byte. Never waits holding nothing the target needs
    /// to leave the guest: a vCPU clears its in-guest flag as KVM_RUN returns, before it takes any lock.
    /// </summary>
    public void RequestTlbFlushAndWait()
    {
        RequestTlbFlush();
        if (ReferenceEquals(t_current, this))
        {
            return;
        }

        Interlocked.MemoryBarrier(); // the byte is visible before we look at where the vCPU is
        long entry = Lifecycle.GuestEntries;
        if (!Lifecycle.InGuest || Machine is not { } machine)
        {
            return; // it will enter through the stub's return path, which sees the byte
        }

        machine.Kick();
        var spin = new SpinWait();
        while (Lifecycle.InGuest && Lifecycle.GuestEntries == entry)
        {
            spin.SpinOnce(sleep1Threshold: 64);
        }
    }

    /// <summary>Marks that the data page holds work for the stub's return path (one byte it tests on every return).</summary>
    private void RequestStub() => DataPage[StubLayout.DataRequests] = 1;

    private void DataSet(int offset, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(DataPage[offset..], value);

    private ulong DataGet(int offset) => BinaryPrimitives.ReadUInt64LittleEndian(DataPage[offset..]);

    private Span<byte> DataPage => Domain.Pool.Memory.GetSpan(Domain.StubPages.DataMachineAddress(Id), 4096);

    public bool CopyFromGuest(ulong va, Span<byte> destination) =>
        GuestAccess.CopyFrom(Domain.Pool, Domain.Id, CurrentL4, va, destination);

    public bool CopyToGuest(ulong va, ReadOnlySpan<byte> source) =>
        GuestAccess.CopyTo(Domain.Pool, Domain.Id, CurrentL4, va, source);

    /// <summary>FS and GS bases from VCPUOP_initialise, for the vCPU's thread to load into its MSRs when it starts.</summary>
    public PendingSegmentBases? PendingSegmentBases { get; set; }

    /// <summary>The frame a vCPU brought up by VCPUOP_initialise starts from (selectors and flags already checked).</summary>
    public void SetInitialFrame(ulong rip, ulong cs, ulong rflags, ulong rsp, ulong ss)
    {
        Domain.Pool.Memory.GetSpan(_frameAddress, StubFrame.Size).Clear();
        FrameSet(StubFrame.Rip, rip);
        FrameSet(StubFrame.Cs, cs);
        FrameSet(StubFrame.Rflags, rflags);
        FrameSet(StubFrame.Rsp, rsp);
        FrameSet(StubFrame.Ss, ss);
    }

    /// <summary>Prepares the frame the stub's start entry restores: the guest's first instruction in ring 3.</summary>
    public void SetInitialContext(ulong rip, ulong rsp, ulong rsi)
    {
        Span<byte> frame = Domain.Pool.Memory.GetSpan(_frameAddress, StubFrame.Size);
        frame.Clear();
        FrameSet(StubFrame.Rip, rip);
        FrameSet(StubFrame.Cs, XenSelectors.FlatKernelCs);
        FrameSet(StubFrame.Rflags, 0x202);
        FrameSet(StubFrame.Rsp, rsp);
        FrameSet(StubFrame.Ss, XenSelectors.FlatKernelSs);
        FrameSet(StubFrame.Rsi, rsi);
        KernelSs = XenSelectors.FlatKernelSs;
        KernelSp = rsp;
        Lifecycle.MarkInitialisedAndUp();
    }

    private VcpuMachineState? _savedMachine;
    private VcpuMachineState? _pendingMachine;

    /// <summary>The machine state it saved when it last parked (null: never parked, or running since), for <see cref="GetContext"/>.</summary>
    internal VcpuMachineState? SavedMachineState => _pendingMachine ?? _savedMachine;

    /// <summary>Machine state <see cref="SetContext"/> left for its thread to load before it runs again.</summary>
    internal void SetPendingMachineState(VcpuMachineState state) => _pendingMachine = state;

    /// <summary>Own thread, before it first runs: a machine state <see cref="SetContext"/> left, if any.</summary>
    internal VcpuMachineState? TakePendingMachineState()
    {
        VcpuMachineState? m = _pendingMachine;
        _pendingMachine = null;
        return m;
    }

    /// <summary>The stub swaps GS on its way back (a guest mode switch not yet taken): the machine's active GS is the other mode's.</summary>
    internal bool SwapGsPending
    {
        get => DataPage[StubLayout.DataSwapGs] != 0;
        set => DataPage[StubLayout.DataSwapGs] = value ? (byte)1 : (byte)0;
    }

    /// <summary>
    /// Own thread, out of the guest: waits while it is down or paused (runstate offline, as Xen accounts a paused or
    /// down vCPU), its machine state saved for <see cref="GetContext"/>; then loads what <see cref="SetContext"/> left
    /// and carries on where it was. False once the domain ended.
    /// </summary>
    public bool WaitOutOfGuest()
    {
        // Paused from running: its timers run on (what they raise is delivered after). Down, or not yet started: stopped.
        bool wasRunning = Runstate.State == RunstateLayout.Running;
        bool timersStopped = !IsUp || !wasRunning;
        if (wasRunning)
        {
            ChangeRunstate(RunstateLayout.Offline, Now());
        }

        if (timersStopped)
        {
            Timers.StopAll();
        }

        SaveMachineState();
        Scheduler?.Allocator.Block(SchedUnit); // paused or down: not runnable, its slot goes to another
        if (!Lifecycle.Park())
        {
            return false;
        }

        LoadPendingMachineState();
        TimePoint now = Now();
        ChangeRunstate(RunstateLayout.Running, now);
        if (timersStopped)
        {
            Timers.OnStart(now);
        }

        if (UpcallDeliverable && EventCallback != 0)
        {
            Machine?.Kick(); // an event that came while it waited: the kick is taken as soon as it enters the guest
        }

        return true;
    }

    /// <summary>Own thread, blocked: stays blocked while paused, its machine state saved.</summary>
    public void ParkBlocked()
    {
        Scheduler?.Allocator.Block(SchedUnit); // a wake-up that came as the pause began gave it a slot: give it back
        SaveMachineState();
        Lifecycle.ParkBlocked();
        LoadPendingMachineState();
    }

    private void SaveMachineState()
    {
        _pendingMachine = null;
        try
        {
            _savedMachine = Machine?.SaveState();
        }
        catch (MachineRefusedException e)
        {
            _savedMachine = null; // its context then shows a reset FPU and zero bases; the guest itself is unharmed
            Domain.Log.Limited($"d{Domain.Id}v{Id}-save", $"(d{Domain.Id}v{Id}) could not save its machine state: {e.Message}");
        }
    }

    private void LoadPendingMachineState()
    {
        if (_pendingMachine is { } m)
        {
            try
            {
                Machine?.LoadState(m);
            }
            catch (MachineRefusedException e)
            {
                Domain.Crash($"vCPU {Id}: the machine refused the context set while it was paused: {e.Message}");
            }
        }

        _pendingMachine = null;
        _savedMachine = null;
    }

    /// <summary>Pauses this vCPU alone (nests, like <see cref="Domain.Pause"/>); returns once it is out of the guest, parked.</summary>
    public void Pause()
    {
        if (ReferenceEquals(t_current, this))
        {
            throw new InvalidOperationException($"{this} cannot pause itself");
        }

        Lifecycle.RequestPause();
        Domain.WaitForQuiescence([this]);
    }

    /// <summary>SCHEDOP_yield: offers its slot to the next runnable vCPU; it waits for a slot again before it re-enters.</summary>
    internal void YieldSlot() => Scheduler?.Allocator.Yield(SchedUnit);

    /// <summary>Releases one <see cref="Pause"/>; false if it was not paused.</summary>
    public bool Unpause() => Lifecycle.ReleasePause();

    /// <summary>Its whole architectural and PV state (Xen's XEN_DOMCTL_getvcpucontext). Valid while it is paused and quiescent.</summary>
    public VcpuContext GetContext() => VcpuContextAccess.Get(this);

    /// <summary>
    /// Replaces its whole state from <paramref name="context"/>, checked as arch_set_info_guest checks it: 0, or a
    /// negative Xen errno and nothing changed. Only while it is paused and quiescent (-EBUSY otherwise).
    /// </summary>
    public int SetContext(in VcpuContext context) => VcpuContextAccess.Set(this, context);

    public override string ToString() => $"d{Domain.Id}v{Id}";
}
