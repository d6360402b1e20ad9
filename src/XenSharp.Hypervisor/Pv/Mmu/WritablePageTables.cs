using Iced.Intel;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Emulation;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Pv.Mmu;

/// <summary>
/// The writable-page-table assist (Xen's ptwr, xen/arch/x86/pv/ro-page-fault.c): with VMASST_TYPE_writable_pagetables
/// on, a guest-kernel write fault on a present, read-only mapping of one of its validated L1 tables is emulated. The
/// instruction at RIP (decoded with Iced) must be a naturally aligned store of at most 8 bytes inside the faulting
/// page: MOV (register or immediate source), XCHG, CMPXCHG, or the bit operations Linux applies to live PTEs (AND/OR
/// with an immediate or register, BTS/BTR with an immediate). The resulting PTE is validated exactly as mmu_update
/// validates it, written, and the guest resumes after the instruction. Anything else is left to the caller, which
/// delivers the #PF to the guest. An emulated write allocates nothing: the instruction is decoded in the vCPU thread's
/// buffer (<see cref="VcpuThreadDecoder"/>) and its address computed through the thread's register reader.
/// </summary>
internal static class WritablePageTables
{
    private const ulong PfPresent = 1;
    private const ulong PfWrite = 2;
    private const ulong PfReserved = 8;
    private const ulong PfInstructionFetch = 16;

    private const ulong FlagCf = 1UL << 0;
    private const ulong FlagPf = 1UL << 2;
    private const ulong FlagAf = 1UL << 4;
    private const ulong FlagZf = 1UL << 6;
    private const ulong FlagSf = 1UL << 7;
    private const ulong FlagOf = 1UL << 11;
    private const ulong ArithmeticFlags = FlagCf | FlagPf | FlagAf | FlagZf | FlagSf | FlagOf;

    public static bool TryEmulate(Vcpu vcpu, ulong cr2, ulong errorCode)
    {
        Domain d = vcpu.Domain;
        if ((d.VmAssist & (1UL << VmAssist.TypeWritablePageTables)) == 0 || !vcpu.InKernelMode)
        {
            return false;
        }

        if ((errorCode & (PfPresent | PfWrite | PfReserved | PfInstructionFetch)) != (PfPresent | PfWrite) || !DomainMmu.GuestAddressOk(cr2))
        {
            return false;
        }

        ulong rip = vcpu.FrameGet(StubFrame.Rip);
        VcpuThreadDecoder thread = VcpuThreadDecoder.Current;
        int length = ReadCode(vcpu, rip, thread.Bytes);
        if (length == 0)
        {
            return false;
        }

        thread.Decoder(64, length, rip).Decode(out Instruction ins);
        if (ins.IsInvalid || ins.HasRepPrefix || ins.HasRepnePrefix)
        {
            return false;
        }

        DomainMmu mmu = d.Mmu;
        lock (mmu.Lock)
        {
            // The PTE that maps cr2 in the kernel tables must be present and read-only, onto a validated L1 of the domain.
            if (!mmu.FindL1(vcpu.KernelL4, cr2, out Mfn mappingL1, out int mappingIndex))
            {
                return false;
            }

            ulong pte = d.Pool.FrameAsEntries(mappingL1)[mappingIndex];
            if ((pte & (PageTableFlags.Present | PageTableFlags.Writable)) != PageTableFlags.Present)
            {
                return false;
            }

            Mfn l1 = PageTableValidator.EntryMfn(pte);
            if (!mmu.Validator.IsValidated(l1, PageType.L1))
            {
                return false;
            }

            return Emulate(vcpu, mmu, in ins, cr2, l1);
        }
    }

    private static bool Emulate(Vcpu vcpu, DomainMmu mmu, in Instruction ins, ulong cr2, Mfn l1)
    {
        int mem = MemoryOperand(in ins);
        if (mem < 0 || ins.MemorySegment is Register.FS or Register.GS)
        {
            return false;
        }

        int size = ins.MemorySize.GetSize();
        if (size is not (1 or 2 or 4 or 8) || !FrameRegisters.TryGetAddress(vcpu, in ins, mem, out ulong addr))
        {
            return false;
        }

        // Only naturally aligned stores within the faulting page (Xen: "bad access").
        if (((addr ^ cr2) & ~0xfffUL) != 0 || (addr & (ulong)(size - 1)) != 0)
        {
            return false;
        }

        int slot = (int)((addr & 0xfff) >> 3);
        int shift = (int)(addr & 7) * 8;
        ulong sizeMask = size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
        ulong fullMask = sizeMask << shift;
        ulong current = vcpu.Domain.Pool.FrameAsEntries(l1)[slot];
        ulong part = (current & fullMask) >> shift;

        ulong flags = vcpu.FrameGet(StubFrame.Rflags);
        ulong newPart;
        bool write = true;
        Register writeBack = Register.None; // a register the instruction loads with the old value (XCHG, failed CMPXCHG)
        switch (ins.Mnemonic)
        {
            case Mnemonic.Mov when mem == 0:
                if (!TrySource(vcpu, in ins, 1, out newPart))
                {
                    return false;
                }

                break;

            case Mnemonic.Xchg:
            {
                int other = 1 - mem;
                if (ins.GetOpKind(other) != OpKind.Register || !TryReadRegister(vcpu, ins.GetOpRegister(other), out ulong src))
                {
                    return false;
                }

                newPart = src & sizeMask;
                writeBack = ins.GetOpRegister(other);
                break;
            }

            case Mnemonic.Cmpxchg when mem == 0:
            {
                if (!TrySource(vcpu, in ins, 1, out ulong src))
                {
                    return false;
                }

                ulong acc = vcpu.FrameGet(StubFrame.Rax) & sizeMask;
                flags = (flags & ~ArithmeticFlags) | SubtractFlags(acc, part, size);
                if (acc == part)
                {
                    newPart = src;
                }
                else
                {
                    newPart = part;
                    write = false;
                    writeBack = size switch { 1 => Register.AL, 2 => Register.AX, 4 => Register.EAX, _ => Register.RAX };
                }

                break;
            }

            case Mnemonic.And or Mnemonic.Or when mem == 0:
            {
                if (!TrySource(vcpu, in ins, 1, out ulong src))
                {
                    return false;
                }

                newPart = ins.Mnemonic == Mnemonic.And ? part & src : part | src;
                flags = (flags & ~ArithmeticFlags) | LogicFlags(newPart, size);
                break;
            }

            case Mnemonic.Bts or Mnemonic.Btr when mem == 0 && ins.Op1Kind == OpKind.Immediate8:
            {
                int bit = (int)(ins.GetImmediate(1) & (ulong)((size * 8) - 1));
                flags = (flags & ~FlagCf) | ((part >> bit) & 1);
                newPart = ins.Mnemonic == Mnemonic.Bts ? part | (1UL << bit) : part & ~(1UL << bit);
                break;
            }

            default:
                return false;
        }

        if (write)
        {
            ulong value = (current & ~fullMask) | ((newPart << shift) & fullMask);
            if (mmu.Validator.ModL1Entry(l1, slot, value, preserveAd: false) != 0)
            {
                return false; // an entry the guest may not have: the #PF goes to the guest, as in Xen
            }

            vcpu.RequestTlbFlush();
        }

        if (writeBack != Register.None)
        {
            WriteRegister(vcpu, writeBack, part);
        }

        vcpu.FrameSet(StubFrame.Rflags, flags);
        vcpu.FrameSet(StubFrame.Rip, ins.NextIP);
        return true;
    }

    /// <summary>Iced's address computation reading registers from a vCPU's stub frame; one per thread, so it is not allocated per write.</summary>
    private sealed class FrameRegisters : IVATryGetRegisterValueProvider
    {
        [ThreadStatic]
        private static FrameRegisters? t_current;

        private Vcpu? _vcpu;

        public static bool TryGetAddress(Vcpu vcpu, in Instruction ins, int operand, out ulong address)
        {
            FrameRegisters registers = t_current ??= new FrameRegisters();
            registers._vcpu = vcpu;
            try
            {
                return ins.TryGetVirtualAddress(operand, 0, registers, out address);
            }
            finally
            {
                registers._vcpu = null;
            }
        }

        public bool TryGetRegisterValue(Register register, int elementIndex, int elementSize, out ulong value) =>
            TryReadRegister(_vcpu!, register, out value);
    }

    /// <summary>The index of the instruction's memory operand, or -1.</summary>
    private static int MemoryOperand(in Instruction ins)
    {
        for (int i = 0; i < ins.OpCount; i++)
        {
            if (ins.GetOpKind(i) == OpKind.Memory)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>A register or immediate source operand, truncated to the memory operand's size.</summary>
    private static bool TrySource(Vcpu vcpu, in Instruction ins, int operand, out ulong value)
    {
        ulong mask = ins.MemorySize.GetSize() == 8 ? ulong.MaxValue : (1UL << (ins.MemorySize.GetSize() * 8)) - 1;
        switch (ins.GetOpKind(operand))
        {
            case OpKind.Register:
                if (!TryReadRegister(vcpu, ins.GetOpRegister(operand), out value))
                {
                    return false;
                }

                value &= mask;
                return true;
            case OpKind.Immediate8:
            case OpKind.Immediate16:
            case OpKind.Immediate32:
            case OpKind.Immediate64:
            case OpKind.Immediate8to16:
            case OpKind.Immediate8to32:
            case OpKind.Immediate8to64:
            case OpKind.Immediate32to64:
                value = ins.GetImmediate(operand) & mask;
                return true;
            default:
                value = 0;
                return false;
        }
    }

    private static bool IsHighByte(Register r) => r is Register.AH or Register.CH or Register.DH or Register.BH;

    /// <summary>Reads a general register (any width) from the stub frame; segment registers other than FS/GS have base 0.</summary>
    private static bool TryReadRegister(Vcpu vcpu, Register r, out ulong value)
    {
        value = 0;
        if (r is Register.ES or Register.CS or Register.SS or Register.DS)
        {
            return true;
        }

        if (!r.IsGPR())
        {
            return false;
        }

        int offset = GuestRegisters.TryOffset(r.GetFullRegister());
        if (offset < 0)
        {
            return false;
        }

        ulong full = vcpu.FrameGet(offset);
        value = IsHighByte(r) ? (full >> 8) & 0xff : r.GetSize() switch
        {
            1 => full & 0xff,
            2 => full & 0xffff,
            4 => full & 0xffff_ffff,
            _ => full,
        };
        return true;
    }

    /// <summary>Writes a general register with x86-64 semantics: 32-bit writes zero-extend, 8/16-bit writes merge.</summary>
    private static void WriteRegister(Vcpu vcpu, Register r, ulong value)
    {
        int offset = GuestRegisters.TryOffset(r.GetFullRegister());
        ulong full = vcpu.FrameGet(offset);
        ulong result = IsHighByte(r)
            ? (full & ~0xff00UL) | ((value & 0xff) << 8)
            : r.GetSize() switch
            {
                1 => (full & ~0xffUL) | (value & 0xff),
                2 => (full & ~0xffffUL) | (value & 0xffff),
                4 => value & 0xffff_ffff,
                _ => value,
            };
        vcpu.FrameSet(offset, result);
    }

    /// <summary>The arithmetic flags of CMP a, b at the given operand size.</summary>
    private static ulong SubtractFlags(ulong a, ulong b, int size)
    {
        int bits = size * 8;
        ulong mask = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
        ulong r = (a - b) & mask;
        ulong sign = 1UL << (bits - 1);
        ulong f = 0;
        if (a < b)
        {
            f |= FlagCf;
        }

        if ((((a ^ b) & (a ^ r)) & sign) != 0)
        {
            f |= FlagOf;
        }

        if (((a ^ b ^ r) & 0x10) != 0)
        {
            f |= FlagAf;
        }

        return f | ResultFlags(r, size);
    }

    /// <summary>Flags of AND/OR: CF and OF cleared, SF/ZF/PF from the result.</summary>
    private static ulong LogicFlags(ulong result, int size) => ResultFlags(result, size);

    private static ulong ResultFlags(ulong r, int size)
    {
        ulong f = 0;
        if (r == 0)
        {
            f |= FlagZf;
        }

        if ((r & (1UL << ((size * 8) - 1))) != 0)
        {
            f |= FlagSf;
        }

        if ((System.Numerics.BitOperations.PopCount(r & 0xff) & 1) == 0)
        {
            f |= FlagPf;
        }

        return f;
    }

    /// <summary>Reads up to 15 instruction bytes at RIP, stopping at the first unreadable page.</summary>
    private static int ReadCode(Vcpu vcpu, ulong rip, Span<byte> code)
    {
        if (vcpu.CopyFromGuest(rip, code))
        {
            return code.Length;
        }

        int inPage = Math.Min(code.Length, Mfn.PageSize - (int)(rip & 0xfff));
        return vcpu.CopyFromGuest(rip, code[..inPage]) ? inPage : 0;
    }
}
