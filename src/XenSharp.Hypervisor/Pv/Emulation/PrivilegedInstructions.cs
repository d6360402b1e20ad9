using Iced.Intel;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Pv.Policy;
using XenSharp.Hypervisor.Stub;
using static XenSharp.Hypervisor.Pv.Emulation.GuestRegisters;

namespace XenSharp.Hypervisor.Pv.Emulation;

/// <summary>
/// What Xen's pv_emulate_privileged_op does with a #GP from a PV guest: decode the instruction at RIP and emulate the
/// ones its validate() hook admits — IN/OUT/INS/OUTS, CLTS, WBINVD, MOV to/from CR and DR, RDMSR/WRMSR, RDTSC, RDTSCP,
/// CPUID, XSETBV, and CLI/STI (ignored when the virtual IOPL allows them). Everything else is not handled (the guest
/// gets its #GP). The ring-0-only ones raise #GP(0) in guest user mode (Xen's emulator runs guest kernel mode as ring 0).
/// </summary>
internal static class PrivilegedInstructions
{
    /// <summary>REP INS/OUTS iterations per trap; the rest re-executes (like Xen's preemption check).</summary>
    private const int MaxStringIterations = 1024;
    private const uint DebugException = 1;

    private static EmulationResult GeneralProtection => EmulationResult.Fault(13, 0);

    private static EmulationResult InvalidOpcode => EmulationResult.Fault(6, null);

    public static EmulationResult Emulate(Vcpu v, PvCpuidPolicy p)
    {
        ulong rip = v.FrameGet(StubFrame.Rip);
        int bitness = (v.FrameGet(StubFrame.Cs) | 3) == XenSelectors.FlatRing3Cs32 ? 32 : 64;
        if (!InstructionFetch.TryDecode(v, rip, bitness, out Instruction i, out EmulationResult failure))
        {
            return failure;
        }

        v.Domain.Exits?.Emulated(i.Mnemonic);
        bool kernel = v.InKernelMode;
        switch (i.Code)
        {
            case Code.Mov_r64_cr or Code.Mov_r32_cr:
            {
                if (!kernel)
                {
                    return GeneralProtection;
                }

                if (!ControlRegisters.TryRead(v, ControlRegisters.Number(i.Op1Register), out ulong value))
                {
                    return EmulationResult.NotHandled;
                }

                Set(v, i.Op0Register, value);
                return Complete(v, p, i.NextIP);
            }

            case Code.Mov_cr_r64 or Code.Mov_cr_r32:
                if (!kernel)
                {
                    return GeneralProtection;
                }

                return ControlRegisters.TryWrite(v, p, ControlRegisters.Number(i.Op0Register), Get(v, i.Op1Register))
                    ? Complete(v, p, i.NextIP)
                    : EmulationResult.NotHandled;

            case Code.Mov_r64_dr or Code.Mov_r32_dr:
            {
                if (!kernel)
                {
                    return GeneralProtection;
                }

                if (!DebugRegisterRules.TryGet(v, i.Op1Register - Register.DR0, out ulong value))
                {
                    return InvalidOpcode;
                }

                Set(v, i.Op0Register, value);
                return Complete(v, p, i.NextIP);
            }

            case Code.Mov_dr_r64 or Code.Mov_dr_r32:
            {
                if (!kernel)
                {
                    return GeneralProtection;
                }

                int rc = DebugRegisterRules.Set(v, p, i.Op0Register - Register.DR0, Get(v, i.Op1Register));
                return rc == 0 ? Complete(v, p, i.NextIP) : rc == -XenErrno.ENODEV ? InvalidOpcode : GeneralProtection;
            }

            case Code.Clts:
                if (!kernel)
                {
                    return GeneralProtection;
                }

                ControlRegisters.SetTaskSwitched(v, false);
                return Complete(v, p, i.NextIP);

            case Code.Wbinvd or Code.Wbnoinvd:
                // An unprivileged domain's cache flush is ignored (Linux issues it at start of day).
                return kernel ? Complete(v, p, i.NextIP) : GeneralProtection;

            case Code.Rdmsr:
            {
                if (!kernel || !MsrPolicy.TryRead(v, p, (uint)v.FrameGet(StubFrame.Rcx), out ulong value))
                {
                    return GeneralProtection;
                }

                SetEdxEax(v, value);
                return Complete(v, p, i.NextIP);
            }

            case Code.Wrmsr:
            {
                ulong value = (v.FrameGet(StubFrame.Rdx) << 32) | (uint)v.FrameGet(StubFrame.Rax);
                return kernel && MsrPolicy.TryWrite(v, p, (uint)v.FrameGet(StubFrame.Rcx), value)
                    ? Complete(v, p, i.NextIP)
                    : GeneralProtection;
            }

            case Code.Rdtsc:
            {
                if (!kernel && (v.VirtualCr4 & ControlRegisters.Cr4Tsd) != 0)
                {
                    return GeneralProtection;
                }

                if (!MachineMsr.TryRead(v, MsrIndex.Tsc, out ulong tsc))
                {
                    return EmulationResult.NotHandled;
                }

                SetEdxEax(v, tsc);
                return Complete(v, p, i.NextIP);
            }

            case Code.Rdtscp:
            {
                if (!p.HasRdtscp)
                {
                    return InvalidOpcode;
                }

                if (!kernel && (v.VirtualCr4 & ControlRegisters.Cr4Tsd) != 0)
                {
                    return GeneralProtection;
                }

                if (!MachineMsr.TryRead(v, MsrIndex.Tsc, out ulong tsc))
                {
                    return EmulationResult.NotHandled;
                }

                MachineMsr.TryRead(v, MsrIndex.TscAux, out ulong aux);
                SetEdxEax(v, tsc);
                v.FrameSet(StubFrame.Rcx, aux & 0xffffffff);
                return Complete(v, p, i.NextIP);
            }

            case Code.Cpuid:
            {
                CpuidResult r = p.Query(v, (uint)v.FrameGet(StubFrame.Rax), (uint)v.FrameGet(StubFrame.Rcx), forced: false);
                v.FrameSet(StubFrame.Rax, r.Eax);
                v.FrameSet(StubFrame.Rbx, r.Ebx);
                v.FrameSet(StubFrame.Rcx, r.Ecx);
                v.FrameSet(StubFrame.Rdx, r.Edx);
                return Complete(v, p, i.NextIP);
            }

            case Code.Xsetbv:
            {
                ulong value = (v.FrameGet(StubFrame.Rdx) << 32) | (uint)v.FrameGet(StubFrame.Rax);
                EmulationResult r = ExtendedControlRegisters.Xsetbv(v, p, (uint)v.FrameGet(StubFrame.Rcx), value);
                return r.Outcome == EmulationOutcome.Emulated ? Complete(v, p, i.NextIP) : r;
            }

            case Code.Cli or Code.Sti:
                // With enough IOPL Xen ignores them (toggling the event mask behind POPF's back is too dangerous).
                return PortIo.IoplAllows(v) ? Complete(v, p, i.NextIP) : EmulationResult.NotHandled;

            case Code.In_AL_imm8 or Code.In_AX_imm8 or Code.In_EAX_imm8 or Code.In_AL_DX or Code.In_AX_DX or Code.In_EAX_DX:
                return PortInput(v, p, i);

            case Code.Out_imm8_AL or Code.Out_imm8_AX or Code.Out_imm8_EAX or Code.Out_DX_AL or Code.Out_DX_AX or Code.Out_DX_EAX:
                return PortOutput(v, p, i);

            case Code.Insb_m8_DX or Code.Insw_m16_DX or Code.Insd_m32_DX:
                return StringIo(v, p, i, input: true);

            case Code.Outsb_DX_m8 or Code.Outsw_DX_m16 or Code.Outsd_DX_m32:
                return StringIo(v, p, i, input: false);

            default:
                return EmulationResult.NotHandled;
        }
    }

    /// <summary>
    /// Finishes an emulated instruction (Xen's pv_emul_instruction_done): RIP to the next instruction, RF cleared, and a
    /// #DB trap if single-stepping or an emulated I/O breakpoint matched.
    /// </summary>
    public static EmulationResult Complete(Vcpu v, PvCpuidPolicy p, ulong nextRip, uint breakpointHits = 0)
    {
        v.FrameSet(StubFrame.Rip, nextRip);
        ulong flags = v.FrameGet(StubFrame.Rflags);
        v.FrameSet(StubFrame.Rflags, flags & ~FlagsResume);
        uint pending = breakpointHits | ((flags & FlagsTrap) != 0 ? DebugRegisterRules.Dr6SingleStep : 0);
        if (pending == 0)
        {
            return EmulationResult.Emulated;
        }

        DebugRegisterRules.MergeDr6(v, p, pending);
        return EmulationResult.Fault((int)DebugException, null);
    }

    private static EmulationResult PortInput(Vcpu v, PvCpuidPolicy p, in Instruction i)
    {
        int size = i.Op0Register.GetSize();
        uint port = i.Op1Kind == OpKind.Immediate8 ? i.Immediate8 : (ushort)v.FrameGet(StubFrame.Rdx);
        if (PortIo.CheckAccess(v, port, size) is { } refused)
        {
            return refused;
        }

        Set(v, StubFrame.Rax, PortIo.Read(v, port, size), size);
        return Complete(v, p, i.NextIP, DebugRegisterRules.IoBreakpointMatch(v, port, (uint)size));
    }

    private static EmulationResult PortOutput(Vcpu v, PvCpuidPolicy p, in Instruction i)
    {
        int size = i.Op1Register.GetSize();
        uint port = i.Op0Kind == OpKind.Immediate8 ? i.Immediate8 : (ushort)v.FrameGet(StubFrame.Rdx);
        if (PortIo.CheckAccess(v, port, size) is { } refused)
        {
            return refused;
        }

        PortIo.Write(v, port, size, (uint)v.FrameGet(StubFrame.Rax));
        return Complete(v, p, i.NextIP, DebugRegisterRules.IoBreakpointMatch(v, port, (uint)size));
    }

    /// <summary>
    /// INS/OUTS, with or without REP: one permission check, then element by element (ES:rDI for INS, seg:rSI for OUTS,
    /// DF decides the direction), updating rDI/rSI and rCX as the CPU would so a fault part-way is restartable.
    /// </summary>
    private static EmulationResult StringIo(Vcpu v, PvCpuidPolicy p, in Instruction i, bool input)
    {
        int size = i.Code switch
        {
            Code.Insb_m8_DX or Code.Outsb_DX_m8 => 1,
            Code.Insw_m16_DX or Code.Outsw_DX_m16 => 2,
            _ => 4,
        };
        uint port = (ushort)v.FrameGet(StubFrame.Rdx);
        if (PortIo.CheckAccess(v, port, size) is { } refused)
        {
            return refused;
        }

        OpKind memory = input ? i.Op0Kind : i.Op1Kind;
        int addressBytes = memory switch
        {
            OpKind.MemoryESRDI or OpKind.MemorySegRSI => 8,
            OpKind.MemoryESEDI or OpKind.MemorySegESI => 4,
            _ => 2,
        };
        ulong addressMask = addressBytes == 8 ? ulong.MaxValue : (1UL << (addressBytes * 8)) - 1;
        Register segment = input ? Register.ES : i.MemorySegment;
        if (!TrySegmentBase(v, segment, out ulong segmentBase))
        {
            return EmulationResult.NotHandled;
        }

        bool repeat = i.HasRepPrefix || i.HasRepnePrefix;
        int indexSlot = input ? StubFrame.Rdi : StubFrame.Rsi;
        bool down = (v.FrameGet(StubFrame.Rflags) & FlagsDirection) != 0;
        ulong remaining = repeat ? v.FrameGet(StubFrame.Rcx) & addressMask : 1;
        uint hits = 0;
        Span<byte> element = stackalloc byte[4];
        for (int n = 0; remaining != 0 && n < MaxStringIterations && hits == 0; n++)
        {
            ulong index = v.FrameGet(indexSlot) & addressMask;
            ulong linear = segmentBase + index;
            if (addressBytes < 8)
            {
                linear &= 0xffffffff;
            }
            else if (!(linear < (1UL << 47) || linear >= XenVirtualLayout.HypervisorVirtEnd))
            {
                return EmulationResult.Fault(segment == Register.SS ? 12 : 13, 0);
            }

            Span<byte> data = element[..size];
            if (input)
            {
                uint value = PortIo.Read(v, port, size);
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(element, value);
                if (!v.CopyToGuest(linear, data))
                {
                    return PageFaults.Fault(v, PageFaults.FirstInaccessible(v, v.CurrentL4, linear, size, write: true), write: true);
                }
            }
            else
            {
                element.Clear();
                if (!v.CopyFromGuest(linear, data))
                {
                    return PageFaults.Fault(v, PageFaults.FirstInaccessible(v, v.CurrentL4, linear, size, write: false), write: false);
                }

                PortIo.Write(v, port, size, System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(element));
            }

            Set(v, indexSlot, down ? index - (ulong)size : index + (ulong)size, addressBytes);
            if (repeat)
            {
                remaining--;
                Set(v, StubFrame.Rcx, remaining, addressBytes);
            }
            else
            {
                remaining = 0;
            }

            hits = DebugRegisterRules.IoBreakpointMatch(v, port, (uint)size);
        }

        if (remaining == 0)
        {
            return Complete(v, p, i.NextIP, hits);
        }

        // Not finished: the guest re-executes the instruction with the updated registers (after a #DB if a breakpoint hit).
        if (hits != 0)
        {
            DebugRegisterRules.MergeDr6(v, p, hits);
            return EmulationResult.Fault((int)DebugException, null);
        }

        return EmulationResult.Emulated;
    }

    /// <summary>Segment bases in long mode: FS and GS from the vCPU, the others flat.</summary>
    private static bool TrySegmentBase(Vcpu v, Register segment, out ulong value)
    {
        value = 0;
        return segment switch
        {
            Register.FS => SegmentBases.TryReadFs(v, out value),
            Register.GS => SegmentBases.TryReadActiveGs(v, out value),
            _ => true,
        };
    }
}
