using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Pv.Mmu;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Pv;

/// <summary>
/// What the host does with a guest event the stub hands up (anything but a hypercall): emulate it, or deliver it to
/// the guest kernel through its trap table or callbacks, or — when the guest cannot take it — crash the domain.
/// Mirrors Xen's do_trap / do_general_protection / do_page_fault / do_invalid_op for PV guests.
/// </summary>
internal static class GuestExceptions
{
    public static void Handle(Vcpu v, ulong vector)
    {
        if (vector == StubVector.GuestSyscall)
        {
            GuestSyscall(v);
            return;
        }

        if (vector == StubVector.EventCheck)
        {
            return; // the runner delivers the pending upcall next
        }

        if (vector == StubVector.GuestMemoryFault)
        {
            v.Domain.Crash($"the stub could not access guest memory at 0x{v.FrameGet(StubFrame.ErrorCode):x} for a bounce frame or iret context (guest RIP 0x{v.FrameGet(StubFrame.Rip):x})");
            return;
        }

        int vec = (int)vector;
        ulong error = v.FrameGet(StubFrame.ErrorCode);
        switch (vec)
        {
            case 6:
            {
                EmulationResult r = PrivilegedOps.TryEmulate(v, 6);
                if (Apply(v, r))
                {
                    return;
                }

                // kvm_pvm raises #UD for a ring-3 `int n` (cd nn).
                if (InstructionAt(v) is [0xcd, byte n, ..])
                {
                    SoftwareInterrupt(v, n);
                    return;
                }

                TrapBounce.Inject(v, 6, null, "#UD");
                return;
            }

            case 13:
            {
                // `int n` through a gate the guest may not use raises #GP with the IDT bit set. The vector is the
                // instruction's: hardware reports (n << 3) | 2, but QEMU's nested SVM (n << 4) | 2, and Xen builds
                // the error code for `int $0x80` itself (entry_int80), whatever the CPU would have said.
                if ((error & 7) == 2 && InstructionAt(v) is [0xcd, byte n, ..])
                {
                    SoftwareInterrupt(v, n);
                    return;
                }

                EmulationResult r = PrivilegedOps.TryEmulate(v, 13);
                if (r.Outcome == EmulationOutcome.NotHandled)
                {
                    r = GateOps.TryEmulate(v);
                }

                if (!Apply(v, r))
                {
                    TrapBounce.Inject(v, 13, error, $"#GP(0x{error:x})");
                }

                return;
            }

            case 14:
            {
                ulong cr2 = v.FrameGet(StubFrame.Cr2);
                if (WritablePageTables.TryEmulate(v, cr2, error) || M2pReadEmulation.TryEmulate(v, cr2, error))
                {
                    return;
                }

                TrapBounce.InjectPageFault(v, cr2, error);
                return;
            }

            case 1 when v.Machine is { } m:
            {
                // The guest reads the cause through its virtual DR6; clear the real one as Xen does.
                ulong[] dr = m.GetDebugRegisters();
                v.DebugRegisters[6] = dr[6];
                dr[6] = 0xffff0ff0;
                m.SetDebugRegisters(dr);
                TrapBounce.Inject(v, 1, null, "#DB");
                return;
            }

            case 7 when (v.VirtualCr0 & 8) != 0:
                // Xen's do_device_not_available for PV: the guest asked for #NM (fpu_taskswitch); deliver it, TS cleared.
                v.VirtualCr0 &= ~8UL;
                TrapBounce.Inject(v, 7, null, "#NM");
                return;

            case < 32:
                TrapBounce.Inject(v, vec, StubVector.HasErrorCode(vec) ? error : null, CrashReport.ExceptionName(vector));
                return;
            default:
                return; // a stray interrupt vector: nothing for the guest
        }
    }

    /// <summary>True when the emulator dealt with the fault (emulated it, or turned it into a fault it delivered).</summary>
    private static bool Apply(Vcpu v, EmulationResult r)
    {
        switch (r.Outcome)
        {
            case EmulationOutcome.Emulated:
                return true;
            case EmulationOutcome.Fault when r.Vector == 14:
                TrapBounce.InjectPageFault(v, v.VirtualCr2, r.ErrorCode ?? 0);
                return true;
            case EmulationOutcome.Fault:
                TrapBounce.Inject(v, r.Vector, r.ErrorCode, CrashReport.ExceptionName((ulong)r.Vector));
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// `int n` from the guest (Xen's rules): int 0x80 goes straight to a registered handler; otherwise the trap's DPL
    /// must admit the guest's mode (kernel counts as ring 1), else #GP(n &lt;&lt; 3 | 2) at the instruction, the error
    /// code built from <paramref name="n"/> and never the CPU's.
    /// </summary>
    private static void SoftwareInterrupt(Vcpu v, int n)
    {
        Abi.TrapInfo t = v.TrapTable[n];
        int dpl = t.Flags & Abi.TrapInfo.DplMask;
        bool allowed = t.Address != 0 && (n == 0x80 || dpl >= (v.InKernelMode ? 1 : 3));
        if (!allowed)
        {
            TrapBounce.Inject(v, 13, ((ulong)n << 3) | 2, $"int 0x{n:x2} not permitted");
            return;
        }

        v.FrameSet(StubFrame.Rip, v.FrameGet(StubFrame.Rip) + 2);
        TrapBounce.Bounce(v, t.Address, (t.Flags & Abi.TrapInfo.SetIf) != 0, null, $"int 0x{n:x2}");
    }

    /// <summary>A `syscall` from guest user mode goes to the guest kernel's syscall callback (Xen: #UD if none).</summary>
    private static void GuestSyscall(Vcpu v)
    {
        if (v.SyscallCallback == 0)
        {
            v.FrameSet(StubFrame.Rip, v.FrameGet(StubFrame.Rip) - 2);
            TrapBounce.Inject(v, 6, null, "syscall with no syscall callback");
            return;
        }

        TrapBounce.Bounce(v, v.SyscallCallback, v.SyscallCallbackMasksEvents, null, "guest system call");
    }

    private static byte[] InstructionAt(Vcpu v)
    {
        var b = new byte[2];
        return v.CopyFromGuest(v.FrameGet(StubFrame.Rip), b) ? b : [];
    }
}
