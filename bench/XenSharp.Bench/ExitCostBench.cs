using System.Buffers.Binary;
using System.Diagnostics;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Logging;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv;
using XenSharp.Hypervisor.Pv.Mmu;
using XenSharp.Hypervisor.Stub;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Image;

namespace XenSharp.Bench;

/// <summary>
/// Figure (g): the host-side CPU time of the exits a Linux boot makes most (docs/guests.md, "Exits of that boot"),
/// measured in this process without KVM: a domain is built from a real PV kernel on heap memory, its vCPU 0 never
/// runs (<see cref="HeapVcpuMachine"/> stands in for KVM), and each exit is handed to the code the vCPU thread runs
/// for it after KVM_RUN returns — <see cref="HypercallDispatcher.Dispatch"/> with the arguments taken from the stub
/// frame for a hypercall, <see cref="GuestExceptions.Handle"/> for a fault — with the guest state (RIP, RSP, the
/// instruction bytes, the hypercall's arguments in guest memory) set up as the guest would leave it. What is left
/// out is the machine's part: KVM_RUN, the CPU's exit and entry and the stub's ring-0 code. Invariant: every
/// measured operation must succeed every time (a hypercall returns 0, a fault is emulated or bounced, the domain is
/// not crashed), or the bench stops: a failing path would time something else.
/// </summary>
internal sealed class ExitCostBench : IDisposable
{
    private const int MemoryMiB = 32;
    private const int PoolBytes = 96 << 20;
    private const int HookSlot = 100; // an empty slot of the initial L2 where a fresh L1 is hooked
    private const ulong Rw = PageTableFlags.Present | PageTableFlags.Writable | PageTableFlags.Accessed;
    private const ulong Ro = PageTableFlags.Present | PageTableFlags.Accessed;
    private const ulong Table = Rw | PageTableFlags.Dirty | PageTableFlags.User;
    private const ulong KernelCs = 0xe030; // FLAT_KERNEL_CS64 with the RPL a bounce frame carries for kernel mode
    private const ulong KernelSs = 0xe02b;

    private readonly XenHypervisor _hv;
    private readonly Domain _d;
    private readonly Vcpu _v;
    private readonly ulong _args, _done, _code, _stackTop, _hookBase;
    private readonly Mfn _l1;
    private readonly ulong[] _ptes;
    private int _flip;

    private ExitCostBench(string kernelPath)
    {
        _hv = new XenHypervisor(new HeapMachineMemory(PoolBytes), new HypervisorLog(TextWriter.Null));
        try
        {
            ushort id = PvDomainBuilder.Build(_hv, new BuildRequest("exit-cost", KernelImage.Load(kernelPath), MemoryMiB, 1, ""), new DiscardConsole());
            _d = _hv.Control.Get(id);
            _v = _d.Vcpus[0];
            _v.Machine = new HeapVcpuMachine();
            _v.VirtualIopl = 1; // as Linux sets it (PHYSDEVOP_set_iopl): its port I/O and cli are emulated, not refused
            _d.VmAssist |= 1UL << VmAssist.TypeWritablePageTables;

            // Scratch pages right past the boot stack: the initial mapping runs at least 512 KiB further (PvLayout).
            ulong page = (_v.FrameGet(StubFrame.Rsp) + 0xfff) & ~0xfffUL;
            (_args, _done, _code, _stackTop) = (page, page + 0x1000, page + 0x2000, page + 0x6000 - 0x100);

            var si = new byte[StartInfoLayout.Size];
            Require(_v.CopyFromGuest(_v.FrameGet(StubFrame.Rsi), si), "cannot read start_info");
            ulong ptBase = BinaryPrimitives.ReadUInt64LittleEndian(si.AsSpan(StartInfoLayout.PtBase));
            ulong nrPages = BinaryPrimitives.ReadUInt64LittleEndian(si.AsSpan(StartInfoLayout.NrPages));
            Mfn l2 = FindInitialL2(ptBase);
            Require(_hv.Pool.FrameAsEntries(l2)[HookSlot] == 0, $"slot {HookSlot} of the initial L2 is in use");
            _hookBase = (ptBase & ~((1UL << 30) - 1)) | ((ulong)HookSlot << 21);

            // The top frames of the domain lie outside its initial mapping: an L1 to hook, and data frames to map.
            _l1 = _d.P2m[nrPages - 1];
            _ptes = [_d.P2m[nrPages - 2].Address | Rw, _d.P2m[nrPages - 3].Address | Rw];
            _hv.Pool.FrameAsEntries(_l1).Clear();
            Require(MmuUpdate(l2.Address + (HookSlot * 8), _l1.Address | Table) == 0, "hooking a fresh L1 into the initial L2 failed");
            // The L1 mapped read-only at its own first slot: writes there are the writable-page-table assist's.
            Require(Hypercall(HypercallNumber.UpdateVaMapping, Hooked(0), _l1.Address | Ro, MmuAbi.UvmfInvlpg) == 0, "mapping the L1 read-only failed");
            _v.TrapTable[14] = new TrapInfo(14, 0, (ushort)KernelCs, _code + 0x100);
        }
        catch
        {
            _hv.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One measured exit: what it is, the time of one, host side, in seconds, and the key of its count in an
    /// <c>--exit-stats</c> line (<see cref="ExitStatsLine"/>).
    /// </summary>
    public sealed record Cost(string Name, string Meaning, double Seconds, string CountKey);

    public static ExitCostBench Create(string kernelPath) => new(kernelPath);

    /// <summary>The common exits, and the null hypercall just before and just after them (the baseline: their mean).</summary>
    public sealed record Measurement(double NullBefore, double NullAfter, IReadOnlyList<Cost> Exits)
    {
        public double Null => (NullBefore + NullAfter) / 2;
    }

    /// <summary>Each exit the median of <paramref name="rounds"/> rounds of <paramref name="n"/>.</summary>
    public Measurement Measure(int n, int rounds)
    {
        var costs = new List<Cost>();
        void Add(string name, string meaning, Action op) => costs.Add(new Cost(name, meaning, Time(op, n, rounds), CountKey(name)));
        Action nullCall = () => Ok(Hypercall(HypercallNumber.XenVersion, 0, 0, 0) > 0);
        // A second of null hypercalls first: the shared path (dispatch, guest memory access) through every JIT tier,
        // so that the "before" baseline is not slower than the "after" one for the JIT's sake alone.
        for (long t = Stopwatch.GetTimestamp(); Clock.Seconds(t, Stopwatch.GetTimestamp()) < 1;)
        {
            nullCall();
        }

        double nullBefore = Time(nullCall, n, rounds);

        Put(_code, [0xe4, 0x42]); // in al, 0x42
        Add("in 0x42", "#GP → emulated `in al, 0x42` (the PIT calibration's port read; all ones, no vPIT)", () => Fault(13, 0, 0, _code + 2));

        Put(_code + 0x10, [0xfa]); // cli
        Add("cli", "#GP → emulated `cli` (ignored with IOPL 1, as Xen does)", () => Fault(13, 0, 0, _code + 0x11, _code + 0x10));

        Put(_code + 0x20, [0x48, 0x89, 0x07]); // mov [rdi], rax
        ulong ptwrTarget = Hooked(0) + (5 * 8);
        Add("ptwr", "#PF → writable page-table write: `mov [rdi], rax` on a read-only mapping of a validated L1, the new PTE checked and written", () =>
        {
            _v.FrameSet(StubFrame.Rdi, ptwrTarget);
            _v.FrameSet(StubFrame.Rax, NextPte());
            Fault(14, 7, ptwrTarget, _code + 0x23, _code + 0x20);
        });

        Add("#PF bounce", "#PF → bounced to the guest kernel's handler (a not-present kernel fault: frame written on its stack)", () =>
            Fault(14, 2, Hooked(300), _code + 0x100));

        Add("mmu_update", "hypercall: `mmu_update`, one PTE of a validated L1 (MMU_NORMAL_PT_UPDATE)", () =>
            Ok(MmuUpdate(_l1.Address + (6 * 8), NextPte()) == 0));

        Add("update_va_mapping", "hypercall: `update_va_mapping` of one VA, UVMF_INVLPG", () =>
            Ok(Hypercall(HypercallNumber.UpdateVaMapping, Hooked(7), NextPte(), MmuAbi.UvmfInvlpg) == 0));

        Span<byte> flush = stackalloc byte[MmuAbi.MmuextOpSize];
        BinaryPrimitives.WriteUInt32LittleEndian(flush, MmuAbi.TlbFlushLocal);
        Put(_args + 0x800, flush);
        Add("mmuext_op", "hypercall: `mmuext_op`, one MMUEXT_TLB_FLUSH_LOCAL", () =>
            Ok(Hypercall(HypercallNumber.MmuextOp, _args + 0x800, 1, 0, MmuAbi.DomidSelf) == 0));

        Span<byte> timer = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(timer, 1UL << 62); // far ahead: it never fires during the bench
        Put(_args + 0xc00, timer);
        Add("vcpu_op", "hypercall: `vcpu_op(VCPUOP_set_singleshot_timer)` (Linux's timer)", () =>
            Ok(Hypercall(HypercallNumber.VcpuOp, VcpuOp.SetSingleshotTimer, 0, _args + 0xc00) == 0));
        Require(Hypercall(HypercallNumber.VcpuOp, VcpuOp.StopSingleshotTimer, 0, 0) == 0, "stopping the timer failed");

        Add("set_segment_base", "hypercall: `set_segment_base(SEGBASE_FS, base)`", () =>
            Ok(Hypercall(HypercallNumber.SetSegmentBase, SegmentHypercalls.SegbaseFs, 0x7f00_0000_1000, 0) == 0));

        Add("stack_switch", "hypercall: `stack_switch` (the kernel stack for the next bounce)", () =>
            Ok(Hypercall(HypercallNumber.StackSwitch, KernelSs, _stackTop, 0) == 0));

        // iret_context {rax, r11, rcx, flags, rip, cs, rflags, rsp, ss} below the stack top, back to kernel mode.
        ulong frame = _stackTop - 0x200;
        Span<byte> iret = stackalloc byte[72];
        ulong[] words = [0, 0, 0, 0, _code, KernelCs, 0x246, _stackTop, KernelSs];
        for (int i = 0; i < words.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(iret[(i * 8)..], words[i]);
        }

        Put(frame, iret);
        Add("iret", "hypercall: `iret` to the guest kernel (context read from its stack, events unmasked)", () =>
        {
            _v.FrameSet(StubFrame.Rsp, frame);
            Ok(Hypercall(HypercallNumber.Iret, 0, 0, 0) == 0 && _v.FrameGet(StubFrame.Rip) == _code);
        });

        double nullAfter = Time(nullCall, n, rounds);
        Require(_d.CrashReason is null, $"the domain crashed: {_d.CrashReason}");
        return new Measurement(nullBefore, nullAfter, costs);
    }

    public void Dispose() => _hv.Dispose();

    /// <summary>Where an --exit-stats line counts the exit: hypercalls by name, the port, the mnemonic; both #PF rows count all #PFs.</summary>
    /// <remarks>The null hypercall is the baseline, not a row; its count is xen_version's.</remarks>
    private static string CountKey(string name) => name switch
    {
        "in 0x42" => "ports/0x42",
        "cli" => "emulated/cli",
        "ptwr" or "#PF bounce" => "vectors/#PF",
        _ => "hypercalls/" + name,
    };

    private static double Time(Action op, int n, int rounds)
    {
        // Warm up for a third of a second (at least 1000 operations): long enough for tiered JIT to install the
        // optimized code (it promotes a method after 30 calls and a 100 ms quiet delay), so the rounds time that.
        long warm = Stopwatch.GetTimestamp();
        for (int i = 0; i < 1000 || Clock.Seconds(warm, Stopwatch.GetTimestamp()) < 0.33; i++)
        {
            op();
        }

        var perOp = new Samples();
        for (int r = 0; r < rounds; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < n; i++)
            {
                op();
            }

            perOp.Add(Clock.Seconds(t0, Stopwatch.GetTimestamp()) / n);
        }

        return perOp.Median;
    }

    /// <summary>The exit as the vCPU thread sees it: the stub frame's vector, error code and CR2, then the handler.</summary>
    private void Fault(int vector, ulong error, ulong cr2, ulong expectRip, ulong? rip = null)
    {
        _v.FrameSet(StubFrame.Rip, rip ?? _code);
        _v.FrameSet(StubFrame.Rsp, _stackTop);
        _v.FrameSet(StubFrame.Vector, (ulong)vector);
        _v.FrameSet(StubFrame.ErrorCode, error);
        _v.FrameSet(StubFrame.Cr2, cr2);
        GuestExceptions.Handle(_v, (ulong)vector);
        Ok(_v.FrameGet(StubFrame.Rip) == expectRip);
    }

    /// <summary>A hypercall as VcpuRunner hands it over: arguments from the stub frame, the result back into RAX.</summary>
    private long Hypercall(int nr, ulong a1, ulong a2, ulong a3, ulong a4 = 0)
    {
        _v.FrameSet(StubFrame.Rax, (ulong)nr);
        _v.FrameSet(StubFrame.Rdi, a1);
        _v.FrameSet(StubFrame.Rsi, a2);
        _v.FrameSet(StubFrame.Rdx, a3);
        _v.FrameSet(StubFrame.R10, a4);
        ulong result = HypercallDispatcher.Dispatch(_v, _v.FrameGet(StubFrame.Rax), _v.FrameGet(StubFrame.Rdi), _v.FrameGet(StubFrame.Rsi),
            _v.FrameGet(StubFrame.Rdx), _v.FrameGet(StubFrame.R10), _v.FrameGet(StubFrame.R8));
        _v.FrameSet(StubFrame.Rax, result);
        return (long)result;
    }

    private long MmuUpdate(ulong ptr, ulong val)
    {
        Span<byte> req = stackalloc byte[MmuAbi.MmuUpdateSize];
        BinaryPrimitives.WriteUInt64LittleEndian(req, ptr);
        BinaryPrimitives.WriteUInt64LittleEndian(req[8..], val);
        Put(_args, req);
        return Hypercall(HypercallNumber.MmuUpdate, _args, 1, _done, MmuAbi.DomidSelf);
    }

    private ulong NextPte() => _ptes[_flip++ & 1];

    private ulong Hooked(int slot) => _hookBase | ((ulong)slot << 12);

    private Mfn FindInitialL2(ulong ptBase)
    {
        // The builder lays the tables out after pt_base: L4, then the L3(s), L2(s) and L1s (PvLayout); the L2 that maps
        // the kernel is the one the L3 entry of pt_base's 1 GiB region names.
        Mfn l4 = _d.P2m[ptBase >> 12];
        ulong l4e = _hv.Pool.FrameAsEntries(l4)[(int)((ptBase >> 39) & 511)];
        ulong l3e = _hv.Pool.FrameAsEntries(PageTableValidator.EntryMfn(l4e))[(int)((ptBase >> 30) & 511)];
        return PageTableValidator.EntryMfn(l3e);
    }

    private void Put(ulong va, ReadOnlySpan<byte> bytes) => Require(_v.CopyToGuest(va, bytes), $"cannot write guest memory at 0x{va:x}");

    private void Ok(bool done)
    {
        if (!done)
        {
            throw new BenchException($"an exit of figure (g) did not do what it should (domain: {_d.CrashReason ?? "not crashed"})");
        }
    }

    private static void Require(bool ok, string what)
    {
        if (!ok)
        {
            throw new BenchException($"figure (g): {what}");
        }
    }

    private sealed class DiscardConsole : IConsoleSink
    {
        public void Write(ReadOnlySpan<byte> bytes)
        {
        }

        public int Read(Span<byte> buffer) => 0;
    }
}
