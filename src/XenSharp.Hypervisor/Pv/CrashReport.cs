using System.Text;
using Iced.Intel;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Pv;

/// <summary>
/// Turns an unhandled guest event into a crash reason that names the offending instruction (decoded with Iced), and
/// logs a register dump for the domain and vCPU.
/// </summary>
internal static class CrashReport
{
    private static readonly string[] ExceptionNames =
    [
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "vector 9", "#TS", "#NP", "#SS", "#GP", "#PF",
        "vector 15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    ];

    public static string ExceptionName(ulong vector) =>
        vector < (ulong)ExceptionNames.Length ? ExceptionNames[vector] : $"vector {vector}";

    /// <summary>The one-line reason; the full register dump goes to the log.</summary>
    public static string Describe(Vcpu vcpu, ulong vector) => Describe(vcpu, vector, vcpu.FrameGet(StubFrame.ErrorCode));

    public static string Describe(Vcpu vcpu, ulong vector, ulong error)
    {
        ulong rip = vcpu.FrameGet(StubFrame.Rip);
        string insn = DecodeAt(vcpu, rip, out byte[] bytes, out int length);
        string what;
        if (vector == StubVector.GuestSyscall)
        {
            what = "system call from guest user mode, which is not supported yet";
        }
        else if (SoftwareInterrupt(vector, error, bytes, length) is { } n)
        {
            what = $"software interrupt int 0x{n:x2} with no handler";
        }
        else if (vector == 14)
        {
            // As the guest would see it: the U bit says guest user mode, not the hardware's ring 3.
            error = vcpu.InKernelMode ? error & ~4UL : error | 4;
            ulong cr2 = vcpu.FrameGet(StubFrame.Cr2);
            string access = (error & 0x10) != 0 ? "instruction fetch from" : (error & 2) != 0 ? "write to" : "read from";
            string why = (error & 1) != 0 ? "a page it may not access" : "an unmapped page";
            string region = cr2 >= Abi.XenVirtualLayout.HypervisorVirtStart && cr2 < Abi.XenVirtualLayout.HypervisorVirtEnd ? " in the hypervisor's reserved range" : "";
            what = $"#PF: {access} {why} at 0x{cr2:x}{region} (error 0x{error:x})";
        }
        else if (vector < 32)
        {
            what = StubVector.HasErrorCode((int)vector) ? $"{ExceptionName(vector)}(0x{error:x})" : ExceptionName(vector);
            if (vector == 13 && !GuestPageWalker.IsCanonical(rip))
            {
                what += ": RIP is not canonical";
            }
        }
        else
        {
            what = $"unexpected vector 0x{vector:x}";
        }

        string reason = $"{what}, unhandled in guest kernel at RIP 0x{rip:x}: {insn}";
        vcpu.Domain.Log.Vcpu(vcpu.Domain.Id, vcpu.Id, $"crash dump: {reason}\n{Registers(vcpu)}");
        return reason;
    }

    private static int? SoftwareInterrupt(ulong vector, ulong error, byte[] bytes, int length)
    {
        // kvm_pvm delivers a ring-3 `int n` as #UD at the `cd nn`; hardware as #GP with error (n << 3) | 2 (QEMU's
        // nested SVM: (n << 4) | 2, so the instruction's own vector comes first).
        bool intAt = length >= 2 && bytes[0] == 0xcd;
        if (vector == 6 && intAt)
        {
            return bytes[1];
        }

        if (vector == 13 && (error & 7) == 2)
        {
            return intAt ? bytes[1] : (int)(error >> 3);
        }

        return null;
    }

    /// <summary>
    /// One line per vCPU for a domain that did not end by itself (a timeout): up or down, blocked or running, the
    /// registers of its last exit (exact for a blocked vCPU, stale for one still running guest code), its events
    /// and timers. For finding where a guest hangs.
    /// </summary>
    public static IEnumerable<string> DescribeVcpus(Domain d)
    {
        foreach (Vcpu v in d.Vcpus)
        {
            if (!v.IsUp && !v.IsInitialised)
            {
                continue;
            }

            Span<byte> info = v.VcpuInfo;
            ulong rip = v.FrameGet(StubFrame.Rip);
            string insn = DecodeAt(v, rip, out _, out _);
            yield return $"(d{d.Id}v{v.Id}) {(v.IsUp ? "up" : "down")}, {(v.IsBlocked ? "blocked" : "running")}, " +
                $"last exit vector {v.FrameGet(StubFrame.Vector):x} at RIP {rip:x}: {insn}; rax {v.FrameGet(StubFrame.Rax):x} " +
                $"rdi {v.FrameGet(StubFrame.Rdi):x} rsi {v.FrameGet(StubFrame.Rsi):x}; upcall pending {(info.IsEmpty ? "-" : info[0].ToString())} " +
                $"mask {(info.IsEmpty ? "-" : info[1].ToString())}; singleshot {(v.Timers.SingleshotArmed ? "armed" : "off")}, period {v.Timers.PeriodNs} ns";
        }
    }

    public static string DecodeAt(Vcpu vcpu, ulong rip, out byte[] bytes, out int length)
    {
        bytes = new byte[15];
        length = 0;
        if (!GuestPageWalker.IsCanonical(rip))
        {
            return "(RIP is not canonical)";
        }

        // Read up to the end of the page first, then what the next page allows.
        int first = Math.Min(15, 4096 - (int)(rip & 0xfff));
        if (!vcpu.CopyFromGuest(rip, bytes.AsSpan(0, first)))
        {
            return "(no instruction: RIP is not mapped in the guest)";
        }

        length = first;
        if (first < 15 && vcpu.CopyFromGuest(rip + (ulong)first, bytes.AsSpan(first, 15 - first)))
        {
            length = 15;
        }

        return Decode(bytes.AsSpan(0, length), rip);
    }

    public static string Decode(ReadOnlySpan<byte> code, ulong rip)
    {
        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(code.ToArray()), rip);
        Instruction i = decoder.Decode();
        if (i.IsInvalid)
        {
            return $"(invalid instruction bytes {Convert.ToHexString(code[..Math.Min(code.Length, 8)]).ToLowerInvariant()})";
        }

        var output = new StringOutput();
        new IntelFormatter().Format(i, output);
        return $"{output.ToStringAndReset()} ({Convert.ToHexString(code[..i.Length]).ToLowerInvariant()})";
    }

    private static string Registers(Vcpu v)
    {
        var sb = new StringBuilder();
        void Row(params (string Name, int Off)[] regs)
        {
            sb.Append("    ");
            foreach ((string name, int off) in regs)
            {
                sb.Append($"{name,-7}{v.FrameGet(off):x16}  ");
            }

            sb.AppendLine();
        }

        Row(("rip", StubFrame.Rip), ("rsp", StubFrame.Rsp), ("rflags", StubFrame.Rflags));
        Row(("rax", StubFrame.Rax), ("rbx", StubFrame.Rbx), ("rcx", StubFrame.Rcx), ("rdx", StubFrame.Rdx));
        Row(("rsi", StubFrame.Rsi), ("rdi", StubFrame.Rdi), ("rbp", StubFrame.Rbp), ("r8", StubFrame.R8));
        Row(("r9", StubFrame.R9), ("r10", StubFrame.R10), ("r11", StubFrame.R11), ("r12", StubFrame.R12));
        Row(("r13", StubFrame.R13), ("r14", StubFrame.R14), ("r15", StubFrame.R15), ("cr2", StubFrame.Cr2));
        sb.Append($"    cs {v.FrameGet(StubFrame.Cs):x4}  ss {v.FrameGet(StubFrame.Ss):x4}  vector 0x{v.FrameGet(StubFrame.Vector):x}  error 0x{v.FrameGet(StubFrame.ErrorCode):x}  cr3 {v.CurrentL4}  mode {(v.InKernelMode ? "kernel" : "user")}");
        return sb.ToString();
    }

    /// <summary>
    /// A fault in ring 0 (the stub's <c>stub_fault</c> path, which leaves what the CPU pushed in registers: RAX vector,
    /// RBX error code, RCX RIP, RDX CS, RSI RFLAGS, RDI RSP, R8 CR2). The guest's own frame cannot be trusted, so the
    /// registers are read directly (slow path). Names the faulting instruction's place in the stub.
    /// </summary>
    public static string DescribeStubFault(MachineRegisters r, StubImage stub) =>
        r.Error is { } e ? $"registers unavailable: {e}" : DescribeStubFault(r.Rax, r.Rbx, r.Rcx, r.Rdx, r.Rsi, r.Rdi, r.R8, stub);

    public static string DescribeStubFault(ulong vector, ulong error, ulong rip, ulong cs, ulong rflags, ulong rsp, ulong cr2, StubImage stub)
    {
        string what = vector < 32 ? ExceptionName(vector) : $"interrupt vector 0x{vector:x}";
        string err = vector < 32 && StubVector.HasErrorCode((int)vector) ? $" error 0x{error:x}" : "";
        string fault = vector == 14 ? $" cr2 0x{cr2:x}" : "";
        return $"{what} (vector 0x{vector:x}){err} at rip 0x{rip:x} ({stub.Symbolize(rip)}){fault}, cs {cs:x} rflags 0x{rflags:x} rsp 0x{rsp:x}";
    }

    /// <summary>A triple fault: nothing of the stub's survives, only the registers KVM reports.</summary>
    public static string DescribeTripleFault(MachineRegisters r) =>
        r.Error is { } e ? $"registers unavailable: {e}" : $"rip 0x{r.Rip:x} rsp 0x{r.Rsp:x} cr2 0x{r.Cr2:x} cr3 0x{r.Cr3:x} cs {r.Cs:x}";
}
