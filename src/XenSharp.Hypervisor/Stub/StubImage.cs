using Iced.Intel;
using XenSharp.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace XenSharp.Hypervisor.Stub;

/// <summary>
/// The ring-0 entry stub, emitted with Iced at start-up for the fixed address <see cref="StubLayout.Base"/>.
/// Every way into ring 0 from the guest builds the same <see cref="StubFrame"/> at the top of the vCPU's stack:
/// exceptions and interrupts through the IDT (stack from TSS.RSP0), and <c>syscall</c> through a per-vCPU LSTAR
/// trampoline on hardware KVM, or — on kvm_pvm, where a ring-3 <c>syscall</c> jumps to LSTAR still in ring 3 — through
/// the #PF its fetch of the supervisor-only trampoline raises (CR2 = RIP = LSTAR). Both become one syscall frame,
/// then are told apart by the vCPU's kernel/user mode. Work the stub does not do itself leaves through one
/// <c>out</c> to <see cref="StubVector.ExitPort"/>; the host edits the frame in memory and the stub returns by iretq.
/// </summary>
internal sealed class StubImage
{
    public const ulong TrampolineStride = 64;
    /// <summary>Arithmetic and control flags a guest may hold (CF PF AF ZF SF TF IF DF OF AC ID); IOPL, NT, RF, VM never.</summary>
    public const int SafeGuestFlags = 0x240fd7;

    private const ulong BodyOffset = StubLayout.MaxVcpus * TrampolineStride;

    private StubImage(byte[] code, ulong[] vectorEntries, ulong start, ulong restore, ulong common, (ulong Address, string Name)[] symbols)
    {
        Code = code;
        _symbols = symbols;
        VectorEntries = vectorEntries;
        StartEntry = start;
        RestoreEntry = restore;
        CommonEntry = common;
    }

    private readonly (ulong Address, string Name)[] _symbols;

    public byte[] Code { get; }

    /// <summary>Names a stub address for crash reports: <c>common+0x1c</c>, <c>vector 0x40 entry</c>, <c>syscall trampoline 1+0x8</c>.</summary>
    public string Symbolize(ulong address)
    {
        if (address >= TrampolineBase && address < TrampolineBase + BodyOffset)
        {
            ulong off = address - TrampolineBase;
            return $"syscall trampoline {off / TrampolineStride}+0x{off % TrampolineStride:x}";
        }

        (ulong Address, string Name) best = default;
        foreach ((ulong a, string n) in _symbols)
        {
            if (a <= address && a >= best.Address)
            {
                best = (a, n);
            }
        }

        ulong end = TrampolineBase + (ulong)Code.Length;
        return best.Name is null || address >= end ? $"0x{address:x} (outside the stub)" : $"{best.Name}+0x{address - best.Address:x}";
    }

    /// <summary>Virtual address of each of the 256 vector entries, for the IDT.</summary>
    public IReadOnlyList<ulong> VectorEntries { get; }

    /// <summary>First instruction of a new vCPU: enables its x2APIC (for kicks), then restores the prepared frame.</summary>
    public ulong StartEntry { get; }

    public ulong RestoreEntry { get; }

    public ulong CommonEntry { get; }

    public static ulong TrampolineBase => StubLayout.Base + StubLayout.CodeOffset;

    public static ulong SyscallEntry(int vcpu) => TrampolineBase + ((ulong)vcpu * TrampolineStride);

    private const int D = StubLayout.FrameToData;
    private const ulong ClearedOnBounce = 0x100 | 0x400 | 0x3000 | 0x4000 | 0x10000 | 0x20000 | 0x40000; // TF DF IOPL NT RF VM AC

    public static StubImage Emit()
    {
        ulong bodyBase = TrampolineBase + BodyOffset;
        var a = new Assembler(64);
        Label common = a.CreateLabel("common");
        Label restore = a.CreateLabel("restore");
        Label stubFault = a.CreateLabel("stub_fault");
        Label start = a.CreateLabel("start");
        Label notSyscallFault = a.CreateLabel("not_syscall_fault");
        Label dispatch = a.CreateLabel("dispatch");
        var vectors = new Label[256];

        for (int v = 0; v < 256; v++)
        {
            vectors[v] = a.CreateLabel();
            a.Label(ref vectors[v]);
            if (v == StubVector.Kick)
            {
                EmitRing0KickFilter(a);
            }

            if (!StubVector.HasErrorCode(v))
            {
                a.push(0);
            }

            a.push(v);
            a.jmp(common);
        }

        // common: [rsp] = vector, then error code and the hardware frame above it.
        a.Label(ref common);
        a.push(rdi);
        a.push(rsi);
        a.push(rdx);
        a.push(rcx);
        a.push(rax);
        a.push(r8);
        a.push(r9);
        a.push(r10);
        a.push(r11);
        a.push(rbx);
        a.push(rbp);
        a.push(r12);
        a.push(r13);
        a.push(r14);
        a.push(r15);
        a.mov(rax, cr2);
        a.push(rax);

        // An entry from ring 0 is a fault in the stub itself: nothing in the frame can be trusted.
        a.test(__byte_ptr[rsp + StubFrame.Cs], 3);
        a.jz(stubFault);

        // kvm_pvm's way into the syscall path: #PF with CR2 == RIP inside the trampolines.
        a.cmp(__qword_ptr[rsp + StubFrame.Vector], 14);
        a.jne(notSyscallFault);
        a.mov(rax, __qword_ptr[rsp + StubFrame.Rip]);
        a.cmp(rax, __qword_ptr[rsp + StubFrame.Cr2]);
        a.jne(notSyscallFault);
        a.mov(rdx, TrampolineBase);
        a.sub(rax, rdx);
        a.cmp(rax, (int)BodyOffset);
        a.jae(notSyscallFault);
        a.mov(rax, __qword_ptr[rsp + StubFrame.Rcx]);
        a.mov(__qword_ptr[rsp + StubFrame.Rip], rax);
        a.mov(rax, __qword_ptr[rsp + StubFrame.R11]);
        a.and(rax, SafeGuestFlags); // R11 is the guest's to choose here: never let it raise IOPL or clear IF
        a.or(rax, 0x202);
        a.mov(__qword_ptr[rsp + StubFrame.Rflags], rax);
        a.mov(__qword_ptr[rsp + StubFrame.ErrorCode], 0);
        a.mov(__qword_ptr[rsp + StubFrame.Vector], (int)StubVector.GuestSyscall);
        // SYSCALL loads CS and SS from STAR: the guest's selectors at the instruction do not survive it (as on hardware).
        a.mov(__qword_ptr[rsp + StubFrame.Cs], (int)XenSelectors.FlatKernelCs);
        a.mov(__qword_ptr[rsp + StubFrame.Ss], (int)XenSelectors.FlatKernelSs);
        a.Label(ref notSyscallFault);

        // A syscall from guest kernel mode is a hypercall; from user mode it goes to the guest kernel's callback.
        Label userSyscall = a.CreateLabel("user_syscall");
        Label fastSyscall = a.CreateLabel("fast_syscall");
        Label fastIret = a.CreateLabel("fast_iret");
        Label checkEvents = a.CreateLabel("check_events");
        Label toHost = a.CreateLabel("to_host");
        Label fastSegmentBase = a.CreateLabel("fast_set_segment_base");
        Label fastStackSwitch = a.CreateLabel("fast_stack_switch");
        a.cmp(__qword_ptr[rsp + StubFrame.Vector], (int)StubVector.GuestSyscall);
        a.jne(dispatch);
        a.cmp(__byte_ptr[rsp + D + StubLayout.DataKernelMode], 0);
        a.je(userSyscall);
        a.mov(__qword_ptr[rsp + StubFrame.Vector], (int)StubVector.Hypercall);
        a.cmp(__byte_ptr[rsp + D + StubLayout.DataSlowPath], 0);
        a.jne(dispatch);
        a.cmp(__qword_ptr[rsp + StubFrame.Rax], Abi.HypercallNumber.Iret);
        a.je(fastIret);
        a.cmp(__qword_ptr[rsp + StubFrame.Rax], Abi.HypercallNumber.SetSegmentBase);
        a.je(fastSegmentBase);
        a.cmp(__qword_ptr[rsp + StubFrame.Rax], Abi.HypercallNumber.StackSwitch);
        a.je(fastStackSwitch);
        a.jmp(dispatch);
        a.Label(ref userSyscall);
        a.cmp(__byte_ptr[rsp + D + StubLayout.DataSlowPath], 0);
        a.je(fastSyscall);

        a.Label(ref dispatch);
        Label portIo = a.CreateLabel("port_io");
        a.cmp(__qword_ptr[rsp + StubFrame.Vector], 13);
        a.je(portIo);
        a.cmp(__qword_ptr[rsp + StubFrame.Vector], StubVector.Kick);
        a.jne(toHost);
        a.mov(ecx, 0x80b); // x2APIC EOI
        a.xor(eax, eax);
        a.xor(edx, edx);
        a.wrmsr();
        a.Label(ref toHost);

        // The guest's TSC as the guest itself reads it, for the host's notion of "now" (Vcpu.SampleTime): a read
        // through KVM (IA32_TSC) can lag where the host TSC is unstable. RAX and RDX are already in the frame.
        a.rdtsc();
        a.mov(__dword_ptr[rsp + D + StubLayout.DataExitTsc], eax);
        a.mov(__dword_ptr[rsp + D + StubLayout.DataExitTsc + 4], edx);
        a.@out((byte)StubVector.ExitPort, al);
        a.jmp(restore);

        EmitFastSyscall(a, ref fastSyscall, dispatch, checkEvents, out Label bounceWriteStart, out Label bounceWriteEnd);
        EmitFastIret(a, ref fastIret, dispatch, checkEvents, out Label iretReadStart, out Label iretReadEnd);
        StubPortIo.Emit(a, ref portIo, toHost, checkEvents, out Label portFetchStart, out Label portFetchEnd);
        StubHypercalls.Emit(a, ref fastSegmentBase, ref fastStackSwitch, dispatch, checkEvents);

        // After a fast path: an event that became deliverable needs the host's upcall.
        a.Label(ref checkEvents);
        a.mov(rdi, __qword_ptr[rsp + D + StubLayout.DataVcpuInfo]);
        a.cmp(__byte_ptr[rdi + Abi.SharedInfoLayout.UpcallPending], 0);
        a.je(restore);
        a.cmp(__byte_ptr[rdi + Abi.SharedInfoLayout.UpcallMask], 0);
        a.jne(restore);
        a.mov(__qword_ptr[rsp + StubFrame.Vector], (int)StubVector.EventCheck);
        a.jmp(toHost);

        // Carry out what the host asked for (data page requests), then return to the guest.
        a.Label(ref restore);
        Label noRequests = a.CreateLabel("no_requests");
        a.cmp(__byte_ptr[rsp + D + StubLayout.DataRequests], 0);
        a.je(noRequests);
        a.mov(__byte_ptr[rsp + D + StubLayout.DataRequests], 0);
        EmitResync(a, toHost);
        Label noCr3 = a.CreateLabel();
        Label noFlush = a.CreateLabel();
        Label noSwapgs = a.CreateLabel();
        a.mov(rax, __qword_ptr[rsp + StubLayout.FrameToData + StubLayout.DataPendingCr3]);
        a.test(rax, rax);
        a.jz(noCr3);
        a.mov(cr3, rax);
        a.mov(__qword_ptr[rsp + StubLayout.FrameToData + StubLayout.DataPendingCr3], 0);
        a.mov(__byte_ptr[rsp + StubLayout.FrameToData + StubLayout.DataFlushTlb], 0);
        a.Label(ref noCr3);
        a.cmp(__byte_ptr[rsp + StubLayout.FrameToData + StubLayout.DataFlushTlb], 0);
        a.je(noFlush);
        a.mov(rax, cr3);
        a.mov(cr3, rax);
        a.mov(__byte_ptr[rsp + StubLayout.FrameToData + StubLayout.DataFlushTlb], 0);
        a.Label(ref noFlush);
        a.cmp(__byte_ptr[rsp + StubLayout.FrameToData + StubLayout.DataSwapGs], 0);
        a.je(noSwapgs);
        a.swapgs();
        a.mov(__byte_ptr[rsp + StubLayout.FrameToData + StubLayout.DataSwapGs], 0);
        a.Label(ref noSwapgs);
        Label tsClear = a.CreateLabel();
        a.mov(rax, cr0);
        a.and(rax, ~8);
        a.cmp(__byte_ptr[rsp + D + StubLayout.DataFpuTs], 0);
        a.je(tsClear);
        a.or(rax, 8);
        a.Label(ref tsClear);
        a.mov(cr0, rax);
        a.Label(ref noRequests);
        a.add(rsp, 8);
        a.pop(r15);
        a.pop(r14);
        a.pop(r13);
        a.pop(r12);
        a.pop(rbp);
        a.pop(rbx);
        a.pop(r11);
        a.pop(r10);
        a.pop(r9);
        a.pop(r8);
        a.pop(rax);
        a.pop(rcx);
        a.pop(rdx);
        a.pop(rsi);
        a.pop(rdi);
        a.add(rsp, 16);
        a.iretq();

        // A ring-0 fault inside a fast path's guest-memory access is the guest's doing (an unmapped or read-only
        // stack): unwind to the outer frame at the top of this stack and let the host crash the domain with a reason.
        a.Label(ref stubFault);
        Label realFault = a.CreateLabel("real_fault");
        Label guestFault = a.CreateLabel("guest_fault");
        a.mov(rax, __qword_ptr[rsp + StubFrame.Rip]);
        foreach ((Label from, Label to) in new[] { (bounceWriteStart, bounceWriteEnd), (iretReadStart, iretReadEnd) })
        {
            Label next = a.CreateLabel();
            a.lea(rdx, __[from]);
            a.cmp(rax, rdx);
            a.jb(next);
            a.lea(rdx, __[to]);
            a.cmp(rax, rdx);
            a.jb(guestFault);
            a.Label(ref next);
            a.nop();
        }

        // A fault on the port-I/O fetch (its page went away): the #GP frame is as the CPU left it; the host decides.
        Label portFetchFault = a.CreateLabel("port_io_fetch_fault");
        a.lea(rdx, __[portFetchStart]);
        a.cmp(rax, rdx);
        a.jb(realFault);
        a.lea(rdx, __[portFetchEnd]);
        a.cmp(rax, rdx);
        a.jb(portFetchFault);
        a.jmp(realFault);
        a.Label(ref portFetchFault);
        a.or(rsp, 0x3fff);
        a.add(rsp, 1 - StubFrame.Size);
        a.jmp(toHost);
        a.Label(ref guestFault);
        a.mov(rdx, __qword_ptr[rsp + StubFrame.Cr2]);
        a.or(rsp, 0x3fff);
        a.add(rsp, 1 - StubFrame.Size);
        a.mov(__qword_ptr[rsp + StubFrame.Vector], (int)StubVector.GuestMemoryFault);
        a.mov(__qword_ptr[rsp + StubFrame.ErrorCode], rdx);
        a.jmp(toHost);
        // A real fault in the stub: what the CPU pushed, in registers for the host (CrashReport.DescribeStubFault).
        a.Label(ref realFault);
        a.mov(rax, __qword_ptr[rsp + StubFrame.Vector]);
        a.mov(rbx, __qword_ptr[rsp + StubFrame.ErrorCode]);
        a.mov(rcx, __qword_ptr[rsp + StubFrame.Rip]);
        a.mov(rdx, __qword_ptr[rsp + StubFrame.Cs]);
        a.mov(rsi, __qword_ptr[rsp + StubFrame.Rflags]);
        a.mov(rdi, __qword_ptr[rsp + StubFrame.Rsp]);
        a.mov(r8, __qword_ptr[rsp + StubFrame.Cr2]);
        a.@out((byte)StubVector.StubFaultPort, al);
        a.hlt();
        a.jmp(stubFault);

        a.Label(ref start);
        a.mov(ecx, 0x1b); // IA32_APIC_BASE: enable the APIC in x2APIC mode
        a.rdmsr();
        a.or(eax, 0xc00);
        a.wrmsr();
        a.mov(ecx, 0x80f); // spurious-interrupt vector register: software-enable
        a.mov(eax, 0x1ff);
        a.xor(edx, edx);
        a.wrmsr();
        a.jmp(restore);

        var body = new MemoryStream();
        AssemblerResult result = a.Assemble(new StreamCodeWriter(body), bodyBase, BlockEncoderOptions.ReturnNewInstructionOffsets);
        ulong commonAddress = result.GetLabelRIP(common);

        var code = new byte[BodyOffset + (ulong)body.Length];
        code.AsSpan(0, (int)BodyOffset).Fill(0xcc); // int3 between trampolines
        body.ToArray().CopyTo(code.AsSpan((int)BodyOffset));
        for (int n = 0; n < StubLayout.MaxVcpus; n++)
        {
            byte[] t = EmitTrampoline(n, commonAddress);
            if ((ulong)t.Length > TrampolineStride)
            {
                throw new InvalidOperationException($"syscall trampoline is {t.Length} bytes, more than its {TrampolineStride}-byte slot");
            }

            t.CopyTo(code.AsSpan(n * (int)TrampolineStride));
        }

        if (code.Length > StubLayout.MaxCodePages * 4096)
        {
            throw new InvalidOperationException("stub code does not fit its pages");
        }

        var entries = new ulong[256];
        var symbols = new List<(ulong, string)>();
        for (int v = 0; v < 256; v++)
        {
            entries[v] = result.GetLabelRIP(vectors[v]);
            symbols.Add((entries[v], $"vector 0x{v:x} entry"));
        }

        foreach ((Label label, string name) in new[]
        {
            (common, "common"), (dispatch, "dispatch"), (toHost, "to_host"), (fastSyscall, "fast_syscall"), (fastIret, "fast_iret"),
            (checkEvents, "check_events"), (restore, "restore"), (stubFault, "stub_fault"), (start, "start"), (portIo, "port_io"),
            (fastSegmentBase, "fast_set_segment_base"), (fastStackSwitch, "fast_stack_switch"),
        })
        {
            symbols.Add((result.GetLabelRIP(label), name));
        }

        return new StubImage(code, entries, result.GetLabelRIP(start), result.GetLabelRIP(restore), commonAddress, [.. symbols]);
    }

    /// <summary>
    /// The kick vector's entry drops a delivery that arrives in ring 0. The stub runs with IF clear everywhere (interrupt
    /// gates, SFMASK clears IF on <c>syscall</c>), so no real interrupt can reach it there; yet QEMU's nested SVM
    /// (the hardware lane, and any host whose "hardware" is QEMU's TCG) delivers an injected interrupt twice: after
    /// injecting an EVENTINJ interrupt at VMRUN it leaves the vector as a pending exception, and delivers it again,
    /// ignoring IF, the next time its CPU loop breaks out for an exit request before another event replaces it —
    /// typically at the first instruction of this very entry. A kick means only "look at your pending work", which the
    /// first delivery does, so the duplicate is answered with a bare <c>iretq</c> (no EOI: it was never in service).
    /// On hardware this costs one test on the kick path and is never taken.
    /// </summary>
    private static void EmitRing0KickFilter(Assembler a)
    {
        Label fromGuest = a.CreateLabel();
        a.test(__byte_ptr[rsp + 8], 3); // the hardware frame: RIP, then CS (the kick vector has no error code)
        a.jnz(fromGuest);
        a.iretq();
        a.Label(ref fromGuest);
    }

    /// <summary>
    /// A guest user-mode <c>syscall</c> bounced to the guest kernel without leaving the VM (Xen's create_bounce_frame
    /// for the syscall callback): switch to kernel mode (CR3, GS), push RCX R11 RIP CS RFLAGS RSP SS on the kernel
    /// stack, continue at the callback. Anything unusual (no callback, a stack in the hypervisor's range) goes to the
    /// host before any state changes.
    /// </summary>
    private static void EmitFastSyscall(Assembler a, ref Label entry, Label slow, Label done, out Label writeStart, out Label writeEnd)
    {
        Label inRange = a.CreateLabel();
        Label noMask = a.CreateLabel();
        Label unmaskedIf = a.CreateLabel();
        writeStart = a.CreateLabel("bounce_write");
        writeEnd = a.CreateLabel("bounce_write_end");
        a.Label(ref entry);
        a.mov(rax, __qword_ptr[rsp + D + StubLayout.DataSyscallCallback]);
        a.test(rax, rax);
        a.jz(slow);
        a.mov(rsi, __qword_ptr[rsp + D + StubLayout.DataKernelSp]);
        a.and(rsi, -16);
        a.sub(rsi, 56);
        a.mov(rdx, Abi.XenVirtualLayout.HypervisorVirtStart - 0x100);
        a.cmp(rsi, rdx);
        a.jb(inRange);
        a.mov(rdx, Abi.XenVirtualLayout.HypervisorVirtEnd + 0x100);
        a.cmp(rsi, rdx);
        a.jb(slow);
        a.Label(ref inRange);
        a.mov(__byte_ptr[rsp + D + StubLayout.DataKernelMode], 1);
        a.mov(rdx, __qword_ptr[rsp + D + StubLayout.DataKernelCr3]);
        a.mov(cr3, rdx);
        a.swapgs();
        a.mov(rdi, __qword_ptr[rsp + D + StubLayout.DataVcpuInfo]);
        a.movzx(ecx, __byte_ptr[rdi + Abi.SharedInfoLayout.UpcallMask]);

        a.Label(ref writeStart);
        a.mov(rdx, __qword_ptr[rsp + StubFrame.Rcx]);
        a.mov(__qword_ptr[rsi], rdx);
        a.mov(rdx, __qword_ptr[rsp + StubFrame.R11]);
        a.mov(__qword_ptr[rsi + 8], rdx);
        a.mov(rdx, __qword_ptr[rsp + StubFrame.Rip]);
        a.mov(__qword_ptr[rsi + 16], rdx);
        a.mov(rdx, rcx);
        a.shl(rdx, 32);
        a.or(rdx, __qword_ptr[rsp + StubFrame.Cs]);
        a.mov(__qword_ptr[rsi + 24], rdx);
        a.mov(rdx, __qword_ptr[rsp + StubFrame.Rflags]);
        a.and(rdx, ~0x3200);
        a.test(ecx, ecx);
        a.jnz(unmaskedIf);
        a.or(rdx, 0x200);
        a.Label(ref unmaskedIf);
        a.mov(__qword_ptr[rsi + 32], rdx);
        a.mov(rdx, __qword_ptr[rsp + StubFrame.Rsp]);
        a.mov(__qword_ptr[rsi + 40], rdx);
        a.mov(rdx, __qword_ptr[rsp + StubFrame.Ss]);
        a.mov(__qword_ptr[rsi + 48], rdx);
        a.Label(ref writeEnd);
        a.nop();

        a.cmp(__byte_ptr[rsp + D + StubLayout.DataSyscallMasks], 0);
        a.je(noMask);
        a.mov(__byte_ptr[rdi + Abi.SharedInfoLayout.UpcallMask], 1);
        a.Label(ref noMask);
        a.mov(__qword_ptr[rsp + StubFrame.Rip], rax);
        a.mov(__qword_ptr[rsp + StubFrame.Rsp], rsi);
        a.mov(__qword_ptr[rsp + StubFrame.Cs], (int)XenSelectors.FlatKernelCs);
        a.mov(__qword_ptr[rsp + StubFrame.Ss], (int)XenSelectors.FlatKernelSs);
        a.mov(rdx, __qword_ptr[rsp + StubFrame.Rflags]);
        a.mov(rcx, ~ClearedOnBounce);
        a.and(rdx, rcx);
        a.or(rdx, 0x202);
        a.mov(__qword_ptr[rsp + StubFrame.Rflags], rdx);
        a.jmp(done);
    }

    /// <summary>
    /// The iret hypercall without leaving the VM (Xen's do_iret): read struct iret_context at the guest's RSP,
    /// switch to user mode when the target CS has RPL 3, restore. Non-canonical targets, a missing user page table or
    /// a context in the hypervisor's range go to the host untouched.
    /// </summary>
    private static void EmitFastIret(Assembler a, ref Label entry, Label slow, Label done, out Label readStart, out Label readEnd)
    {
        Label toKernel = a.CreateLabel();
        Label inSyscall = a.CreateLabel();
        readStart = a.CreateLabel("iret_read");
        readEnd = a.CreateLabel("iret_read_end");
        a.Label(ref entry);
        a.mov(rsi, __qword_ptr[rsp + StubFrame.Rsp]);
        a.mov(rdx, Abi.XenVirtualLayout.HypervisorVirtStart - 0x100);
        a.cmp(rsi, rdx);
        a.jb(readStart);
        a.mov(rdx, Abi.XenVirtualLayout.HypervisorVirtEnd + 0x100);
        a.cmp(rsi, rdx);
        a.jb(slow);

        a.Label(ref readStart);
        a.mov(r8, __qword_ptr[rsi]);        // rax
        a.mov(r9, __qword_ptr[rsi + 8]);    // r11
        a.mov(r10, __qword_ptr[rsi + 16]);  // rcx
        a.mov(r12, __qword_ptr[rsi + 24]);  // flags
        a.mov(r13, __qword_ptr[rsi + 32]);  // rip
        a.mov(r14, __qword_ptr[rsi + 40]);  // cs
        a.mov(r15, __qword_ptr[rsi + 48]);  // rflags
        a.mov(rbx, __qword_ptr[rsi + 56]);  // rsp
        a.Label(ref readEnd);
        a.nop();

        a.mov(rdx, r13);
        a.shl(rdx, 16);
        a.sar(rdx, 16);
        a.cmp(rdx, r13);
        a.jne(slow);
        a.test(r14b, 3);
        a.jz(toKernel);
        a.mov(rdx, __qword_ptr[rsp + D + StubLayout.DataUserCr3]);
        a.test(rdx, rdx);
        a.jz(slow);
        a.mov(__byte_ptr[rsp + D + StubLayout.DataKernelMode], 0);
        a.mov(cr3, rdx);
        a.swapgs();
        a.Label(ref toKernel);

        a.mov(rdi, __qword_ptr[rsp + D + StubLayout.DataVcpuInfo]);
        a.test(r15d, 0x200);
        a.sete(al);
        a.mov(__byte_ptr[rdi + Abi.SharedInfoLayout.UpcallMask], al);
        a.mov(__qword_ptr[rsp + StubFrame.Rip], r13);
        a.mov(__qword_ptr[rsp + StubFrame.Cs], (int)XenSelectors.FlatRing3Cs64);
        a.mov(__qword_ptr[rsp + StubFrame.Ss], (int)XenSelectors.FlatRing3Ds);
        a.mov(__qword_ptr[rsp + StubFrame.Rsp], rbx);
        a.and(r15, SafeGuestFlags);
        a.or(r15, 0x202);
        a.mov(__qword_ptr[rsp + StubFrame.Rflags], r15);
        a.mov(__qword_ptr[rsp + StubFrame.Rax], r8);
        a.test(r12d, (int)Hypercalls.IretHypercall.VgcfInSyscall);
        a.jnz(inSyscall);
        a.mov(__qword_ptr[rsp + StubFrame.Rcx], r10);
        a.mov(__qword_ptr[rsp + StubFrame.R11], r9);
        a.Label(ref inSyscall);
        a.jmp(done);
    }


    /// <summary>
    /// Writes each page-table entry the host changed (listed in the data page) back to itself from inside the VM, so a
    /// shadow-paging KVM drops its stale shadow of it (host writes bypass KVM's write tracking). Hardware paging does not
    /// need it; it costs nothing when the list is empty.
    /// </summary>
    private static void EmitResync(Assembler a, Label toHost)
    {
        Label done = a.CreateLabel();
        Label next = a.CreateLabel();
        Label whole = a.CreateLabel();
        Label wholeLoop = a.CreateLabel();
        Label step = a.CreateLabel();
        a.mov(ecx, __dword_ptr[rsp + D + StubLayout.DataResyncCount]);
        a.test(ecx, ecx);
        a.jz(done);
        a.lea(rsi, __[rsp + D + StubLayout.DataResyncList]);
        a.mov(rdi, DirectMap.Base);
        a.Label(ref next);
        a.mov(rax, __qword_ptr[rsi]);
        a.test(al, 1);
        a.jnz(whole);
        a.mov(rdx, __qword_ptr[rdi + rax]);
        a.mov(__qword_ptr[rdi + rax], rdx);
        a.jmp(step);
        a.Label(ref whole);
        a.and(rax, -4096);
        a.add(rax, rdi);
        a.mov(r8d, 512);
        a.Label(ref wholeLoop);
        a.mov(rdx, __qword_ptr[rax]);
        a.mov(__qword_ptr[rax], rdx);
        a.add(rax, 8);
        a.dec(r8d);
        a.jnz(wholeLoop);
        a.Label(ref step);
        a.add(rsi, 8);
        a.dec(ecx);
        a.jnz(next);
        a.mov(__dword_ptr[rsp + D + StubLayout.DataResyncCount], 0);
        a.cmp(__byte_ptr[rsp + D + StubLayout.DataResyncMore], 0);
        a.je(done);
        a.mov(__byte_ptr[rsp + D + StubLayout.DataResyncMore], 0);
        a.mov(__qword_ptr[rsp + StubFrame.Vector], (int)StubVector.EventCheck);
        a.jmp(toHost);
        a.Label(ref done);
        a.nop();
    }

    /// <summary>Hardware KVM's way into the syscall path: LSTAR in ring 0 on the guest's stack; move to this vCPU's stack and build the frame.</summary>
    private static byte[] EmitTrampoline(int vcpu, ulong commonAddress)
    {
        var a = new Assembler(64);
        ulong scratch = StubLayout.DataPage(vcpu) + StubLayout.DataScratchRsp;
        a.AddInstruction(Instruction.Create(Iced.Intel.Code.Mov_rm64_r64, new MemoryOperand(Register.RIP, (long)scratch), Register.RSP));
        a.mov(rsp, StubLayout.StackTop(vcpu));
        a.push((int)XenSelectors.FlatKernelSs);
        a.AddInstruction(Instruction.Create(Iced.Intel.Code.Push_rm64, new MemoryOperand(Register.RIP, (long)scratch)));
        a.push(r11);
        a.push((int)XenSelectors.FlatKernelCs);
        a.push(rcx);
        a.push(0);
        a.push((int)StubVector.GuestSyscall);
        a.jmp(commonAddress);
        var s = new MemoryStream();
        a.Assemble(new StreamCodeWriter(s), SyscallEntry(vcpu));
        return s.ToArray();
    }
}
