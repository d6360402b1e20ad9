using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Pv;
using XenSharp.Hypervisor.Stub;
using XenSharp.Hypervisor.Time;
using XenSharp.Kvm;

namespace XenSharp.Hypervisor.Machine;

/// <summary>
/// One vCPU's host thread: sets up the KVM vCPU to start in the stub in ring 0, then runs the KVM_RUN loop. The only
/// exits expected are the stub's <c>out</c> (a hypercall or a guest event; the frame in memory says which) and kicks.
/// Anything else is the guest's doing or a stub fault, and crashes this domain only. No guest action may throw out of
/// this loop: unexpected exceptions crash the domain with the exception's message.
/// </summary>
internal sealed class VcpuRunner : IDisposable, IVcpuMachine
{
    private const ulong Cr0 = 0x80050033;   // PG AM WP NE ET MP PE
    private const ulong Cr4 = 0x620;        // OSXMMEXCPT OSFXSR PAE
    private const ulong Cr4Osxsave = 1UL << 18;
    private const ulong Xcr0FpSse = 0x3;    // what a PV vCPU runs with until its kernel's first XSETBV (Xen's XSTATE_FP_SSE)
    private const ulong Efer = 0xd01;       // NXE LMA LME SCE
    private const ulong SyscallMask = 0x47700; // AC NT DF IF TF cleared on syscall entry

    private readonly KvmVcpu _kvm;
    private readonly Action _kick;
    private readonly StubImage _stub;
    private Thread? _thread;

    /// <param name="kick">Interrupts this vCPU in the guest (an MSI to the stub's kick vector); callable from any thread.</param>
    public VcpuRunner(Vcpu vcpu, KvmVcpu kvm, IReadOnlyList<CpuidEntry> cpuid, StubImage stub, Action kick)
    {
        Vcpu = vcpu;
        _kvm = kvm;
        _kick = kick;
        _stub = stub;
        _kvm.SetCpuid(cpuid.ToArray());
        SetupRing0(stub, CpuidPolicy.HasXsave(cpuid));
        vcpu.Machine = this;
    }

    public ulong GetMsr(uint index)
    {
        try
        {
            return _kvm.GetMsr(index);
        }
        catch (KvmException e)
        {
            throw new MachineRefusedException(e.Message, e);
        }
    }

    public void SetMsr(uint index, ulong value)
    {
        try
        {
            _kvm.SetMsrs([new MsrValue(index, value)]);
        }
        catch (KvmException e)
        {
            throw new MachineRefusedException(e.Message, e);
        }
    }

    public VcpuMachineState SaveState()
    {
        try
        {
            SpecialRegisters s = _kvm.GetSpecialRegisters();
            byte[] fx = new byte[VcpuMachineState.FxsaveSize];
            _kvm.GetFxsave(fx);
            return new VcpuMachineState(
                s.Fs.Base, s.Gs.Base, _kvm.GetMsr(Pv.Policy.MsrIndex.ShadowGsBase),
                s.Ds.Selector, s.Es.Selector, s.Fs.Selector, s.Gs.Selector, fx);
        }
        catch (KvmException e)
        {
            throw new MachineRefusedException(e.Message, e);
        }
    }

    public void LoadState(VcpuMachineState state)
    {
        try
        {
            LoadStateOrThrow(state);
        }
        catch (KvmException e)
        {
            throw new MachineRefusedException(e.Message, e);
        }
    }

    private void LoadStateOrThrow(VcpuMachineState state)
    {
        SpecialRegisters s = _kvm.GetSpecialRegisters();
        bool changed = s.Fs.Base != state.FsBase || s.Gs.Base != state.GsBase;
        s.Fs.Base = state.FsBase;
        s.Gs.Base = state.GsBase;
        changed |= NullIfChanged(ref s.Ds, state.Ds) | NullIfChanged(ref s.Es, state.Es);
        changed |= NullIfChanged(ref s.Fs, state.Fs) | NullIfChanged(ref s.Gs, state.Gs);
        if (changed)
        {
            _kvm.SetSpecialRegisters(s);
        }

        _kvm.SetMsrs([new MsrValue(Pv.Policy.MsrIndex.ShadowGsBase, state.ShadowGsBase)]);
        _kvm.SetFxsave(state.Fxsave);
    }

    /// <summary>The real registers, machine-neutral, for a crash report (the stub's frame cannot be trusted then).</summary>
    private MachineRegisters ReadRegisters()
    {
        try
        {
            Registers r = _kvm.GetRegisters();
            SpecialRegisters s = _kvm.GetSpecialRegisters();
            return new MachineRegisters(r.Rax, r.Rbx, r.Rcx, r.Rdx, r.Rsi, r.Rdi, r.R8, r.Rip, r.Rsp, s.Cr2, s.Cr3, s.Cs.Selector);
        }
        catch (KvmException e)
        {
            return MachineRegisters.Unavailable(e.Message);
        }
    }

    /// <summary>A data selector changed to null (the only change the core lets through) unloads the segment, keeping its base.</summary>
    private static bool NullIfChanged(ref Segment seg, ushort selector)
    {
        if (seg.Selector == selector)
        {
            return false;
        }

        seg = new Segment { Base = seg.Base, Unusable = 1 };
        return true;
    }

    public ulong[] GetDebugRegisters() => _kvm.GetDebugRegisters();

    public void SetDebugRegisters(ReadOnlySpan<ulong> dr) => _kvm.SetDebugRegisters(dr);

    public ulong ReadTsc() => _kvm.ReadTsc();

    public void Kick() => _kick();

    /// <summary>The rate of the TSC the guest reads, in Hz.</summary>
    public ulong TscHz => _kvm.GetTscKhz() * 1000;

    public Vcpu Vcpu { get; }

    public bool IsRunning => _thread is { IsAlive: true };

    public void Start()
    {
        Vcpu.Lifecycle.ThreadStarted(); // before the thread exists: a pause from now on waits for it to park
        _thread = new Thread(Loop) { Name = $"vcpu d{Vcpu.Domain.Id}v{Vcpu.Id}", IsBackground = true };
        _thread.Start();
    }

    public bool Join(TimeSpan timeout) => _thread is null || _thread.Join(timeout);

    public void Dispose() => _kvm.Dispose();

    /// <summary>
    /// XSETBV as the core emulated it (validated against the PV policy): the vCPU's XCR0. Only on the vCPU's own thread,
    /// and only where the machine has XSAVE (CR4.OSXSAVE set in <see cref="SetupRing0"/>).
    /// </summary>
    public void SetXcr0(ulong value)
    {
        try
        {
            _kvm.SetXcr0(value);
        }
        catch (KvmException e)
        {
            throw new MachineRefusedException(e.Message, e);
        }
    }

    /// <param name="xsave">The machine has XSAVE: the vCPU runs with CR4.OSXSAVE, as Xen does wherever the hardware has
    /// it, so XGETBV, XSAVE* and (once XCR0 enables them) AVX work natively; XSETBV from the deprivileged guest kernel
    /// faults to the core (<see cref="SetXcr0"/>).</param>
    private void SetupRing0(StubImage stub, bool xsave)
    {
        int id = Vcpu.Id;
        SpecialRegisters s = _kvm.GetSpecialRegisters();
        s.Cr0 = Cr0;
        s.Cr4 = xsave ? Cr4 | Cr4Osxsave : Cr4;
        s.Efer = Efer;
        s.Cr3 = Vcpu.KernelL4.Address;
        s.Cs = new Segment { Selector = XenSelectors.HypervisorCs64, Limit = 0xffffffff, Type = 11, Present = 1, S = 1, L = 1, G = 1 };
        s.Ss = new Segment { Selector = XenSelectors.HypervisorDs, Limit = 0xffffffff, Type = 3, Present = 1, S = 1, Db = 1, G = 1 };
        Segment nul = new() { Unusable = 1 };
        s.Ds = nul;
        s.Es = nul;
        s.Fs = nul;
        s.Gs = nul;
        s.Tr = new Segment { Selector = XenSelectors.Tss, Base = StubLayout.DataPage(id), Limit = StubLayout.TssSize - 1, Type = 11, Present = 1 };
        s.Ldt = new Segment { Unusable = 1 };
        s.Gdt = new DescriptorTable { Base = StubLayout.GdtBase(id), Limit = StubLayout.GdtLimit };
        s.Idt = new DescriptorTable { Base = StubLayout.Base + StubLayout.IdtOffset, Limit = 0xfff };
        _kvm.SetSpecialRegisters(s);
        if (xsave)
        {
            _kvm.SetXcr0(Xcr0FpSse);
        }

        ulong star = ((ulong)(XenSelectors.FlatRing3Cs32 & ~3 | 3) << 48) | ((ulong)XenSelectors.HypervisorCs64 << 32);
        _kvm.SetMsrs(
        [
            new MsrValue(0xc0000081, star),                       // STAR
            new MsrValue(0xc0000082, StubImage.SyscallEntry(id)), // LSTAR
            new MsrValue(0xc0000083, StubImage.SyscallEntry(id)), // CSTAR
            new MsrValue(0xc0000084, SyscallMask),                // SFMASK
        ]);

        _kvm.SetRegisters(new Registers { Rip = stub.StartEntry, Rsp = StubLayout.FrameAddress(id), Rflags = 2 });
        if (id != 0)
        {
            _kvm.MakeRunnable();
        }
    }

    /// <summary>
    /// The run loop. Its policy is the core's: the vCPU's <see cref="VcpuLifecycle"/> says when it may enter the guest
    /// (up, not paused, the domain alive); out of the guest it waits through <see cref="Vcpu.WaitOutOfGuest"/>; exits
    /// go to the core's handlers. This loop only drives KVM.
    /// </summary>
    private void Loop()
    {
        Domain d = Vcpu.Domain;
        VcpuLifecycle life = Vcpu.Lifecycle;
        Scheduling.VcpuScheduling? scheduling = d.Hypervisor.Scheduling;
        scheduling?.Add(Vcpu);
        try
        {
            Vcpu.BindToCurrentThread();
            LoadStartState();
            if (life.EnterRunning())
            {
                TimePoint start = Vcpu.Now();
                Vcpu.ChangeRunstate(Abi.RunstateLayout.Running, start);
                Vcpu.Timers.OnStart(start);
            }

            while (!Vcpu.StopRequested)
            {
                if (!Vcpu.IsUp || life.IsPauseRequested || life.State != VcpuState.Running)
                {
                    if (!Vcpu.WaitOutOfGuest())
                    {
                        break;
                    }

                    continue;
                }

                if (Vcpu.DebugRegistersDirty)
                {
                    // Guest breakpoints are real hardware breakpoints; their addresses were checked (set_debugreg rules).
                    Vcpu.DebugRegistersDirty = false;
                    _kvm.SetDebugRegisters(Vcpu.DebugRegisters);
                }

                if (!Vcpu.WaitForSlot())
                {
                    break;
                }

                if (Vcpu.StopRequested || life.IsPauseRequested || life.State != VcpuState.Running)
                {
                    continue; // what came while it waited for a slot is seen at the top
                }

                QueueShadowResync();
                life.SetInGuest(true);
                if ((Vcpu.UpcallDeliverable && Vcpu.EventCallback != 0 && d.State == DomainState.Running) || Vcpu.PreemptPending)
                {
                    _kick(); // raised while it was out of the guest, after the last check: taken on entry
                }

                VcpuExit exit = _kvm.Run();
                life.SetInGuest(false);
                switch (exit.Reason)
                {
                    case VcpuExitReason.Io when exit.IoPort == StubVector.ExitPort:
                        Vcpu.InExit = true;
                        HandleStubExit();
                        if (d.State == DomainState.Running)
                        {
                            EventUpcall.DeliverIfPending(Vcpu);
                        }

                        Vcpu.InExit = false;

                        break;
                    case VcpuExitReason.Io when exit.IoPort == StubVector.StubFaultPort:
                        d.Crash($"fault inside the hypervisor stub on vCPU {Vcpu.Id}: {CrashReport.DescribeStubFault(ReadRegisters(), _stub)}");
                        return;
                    case VcpuExitReason.Interrupted:
                        d.Exits?.Interrupted();
                        break;
                    case VcpuExitReason.Shutdown:
                        d.Crash($"triple fault on vCPU {Vcpu.Id} ({CrashReport.DescribeTripleFault(ReadRegisters())})");
                        return;
                    default:
                        d.Crash($"unexpected machine exit on vCPU {Vcpu.Id}: {exit}");
                        return;
                }
            }
        }
        catch (Exception e)
        {
            d.Crash($"internal error handling vCPU {Vcpu.Id}: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            life.SetInGuest(false);
            scheduling?.Remove(Vcpu);
            Vcpu.Timers.StopAll();
            life.Exit();
        }
    }

    /// <summary>
    /// What VCPUOP_initialise left for the vCPU's own thread: its page tables in CR3 (the stub's start entry does not
    /// load them) and its segment bases in the MSRs.
    /// </summary>
    private void LoadStartState()
    {
        SpecialRegisters s = _kvm.GetSpecialRegisters();
        if (s.Cr3 != Vcpu.CurrentL4.Address)
        {
            s.Cr3 = Vcpu.CurrentL4.Address;
            _kvm.SetSpecialRegisters(s);
        }

        if (Vcpu.TakePendingMachineState() is { } st)
        {
            LoadState(st); // a context set before it first ran
        }

        if (Vcpu.PendingSegmentBases is { } b)
        {
            Vcpu.PendingSegmentBases = null;
            bool kernel = Vcpu.InKernelMode;
            _kvm.SetMsrs(
            [
                new MsrValue(Pv.Policy.MsrIndex.FsBase, b.Fs),
                new MsrValue(Pv.Policy.MsrIndex.GsBase, kernel ? b.GsKernel : b.GsUser),
                new MsrValue(Pv.Policy.MsrIndex.ShadowGsBase, kernel ? b.GsUser : b.GsKernel),
            ]);
        }
    }

    /// <summary>
    /// Hands the stub the page-table entries the host rewrote since the vCPU last ran (DomainMmu records them), for it
    /// to write again from inside the VM — a shadow-paging KVM (kvm_pvm) otherwise keeps using the old ones.
    /// </summary>
    private void QueueShadowResync()
    {
        Pv.Mmu.DomainMmu mmu = Vcpu.Domain.Mmu;
        if (mmu.PendingHostWrites == 0)
        {
            return;
        }

        Span<ulong> batch = stackalloc ulong[StubLayout.ResyncCapacity];
        int n = mmu.DrainHostWrites(batch);
        Vcpu.QueueResync(batch[..n], more: mmu.PendingHostWrites > 0);
    }

    private void HandleStubExit()
    {
        ulong vector = Vcpu.FrameGet(StubFrame.Vector);
        ExitCounts? exits = Vcpu.Domain.Exits;
        if (vector == StubVector.Hypercall)
        {
            exits?.Hypercall(Vcpu.FrameGet(StubFrame.Rax));
            ulong result = HypercallDispatcher.Dispatch(
                Vcpu,
                Vcpu.FrameGet(StubFrame.Rax),
                Vcpu.FrameGet(StubFrame.Rdi),
                Vcpu.FrameGet(StubFrame.Rsi),
                Vcpu.FrameGet(StubFrame.Rdx),
                Vcpu.FrameGet(StubFrame.R10),
                Vcpu.FrameGet(StubFrame.R8));
            Vcpu.FrameSet(StubFrame.Rax, result);
            return;
        }

        exits?.Vector(vector);
        if (vector == StubVector.Kick)
        {
            return;
        }

        GuestExceptions.Handle(Vcpu, vector);
    }
}
