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
public sealed class StubImage
{
    public const ulong TrampolineStride = 64;
    /// <summary>Arithmetic and control flags a guest may hold (CF PF AF ZF SF TF IF DF OF AC ID); IOPL, NT, RF, VM never.</summary>
    public const int SafeGuestFlags = 0x240fd7;

    private const ulong BodyOffset = StubLayout.MaxVcpus * TrampolineStride;

    private StubImage(byte[] code, ulong[] vectorEntries, ulong start, ulong restore, ulong common)
    {
        Code = code;
        VectorEntries = vectorEntries;
        StartEntry = start;
        RestoreEntry = restore;
        CommonEntry = common;
    }

    public byte[] Code { get; }

    /// <summary>Virtual address of each of the 256 vector entries, for the IDT.</summary>
    public IReadOnlyList<ulong> VectorEntries { get; }

    /// <summary>First instruction of a new vCPU: enables its x2APIC (for kicks), then restores the prepared frame.</summary>
    public ulong StartEntry { get; }

    public ulong RestoreEntry { get; }

    public ulong CommonEntry { get; }

    public static ulong TrampolineBase => StubLayout.Base + StubLayout.CodeOffset;

    public static ulong SyscallEntry(int vcpu) => TrampolineBase + ((ulong)vcpu * TrampolineStride);

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
        Label noEoi = a.CreateLabel("no_eoi");
        var vectors = new Label[256];

        for (int v = 0; v < 256; v++)
        {
            vectors[v] = a.CreateLabel();
            a.Label(ref vectors[v]);
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
        a.Label(ref notSyscallFault);

        // A syscall from guest kernel mode is a hypercall.
        a.cmp(__qword_ptr[rsp + StubFrame.Vector], (int)StubVector.GuestSyscall);
        a.jne(dispatch);
        a.cmp(__byte_ptr[rsp + StubLayout.FrameToData + StubLayout.DataKernelMode], 0);
        a.je(dispatch);
        a.mov(__qword_ptr[rsp + StubFrame.Vector], (int)StubVector.Hypercall);

        a.Label(ref dispatch);
        a.cmp(__qword_ptr[rsp + StubFrame.Vector], StubVector.Kick);
        a.jne(noEoi);
        a.mov(ecx, 0x80b); // x2APIC EOI
        a.xor(eax, eax);
        a.xor(edx, edx);
        a.wrmsr();
        a.Label(ref noEoi);
        a.@out((byte)StubVector.ExitPort, al);

        // Carry out what the host asked for (data page requests), then return to the guest.
        a.Label(ref restore);
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

        a.Label(ref stubFault);
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
        for (int v = 0; v < 256; v++)
        {
            entries[v] = result.GetLabelRIP(vectors[v]);
        }

        return new StubImage(code, entries, result.GetLabelRIP(start), result.GetLabelRIP(restore), commonAddress);
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
