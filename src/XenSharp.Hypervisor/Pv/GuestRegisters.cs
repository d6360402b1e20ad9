using Iced.Intel;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Pv;

/// <summary>Guest general registers by Iced register, in the vCPU's stub frame, with x86 partial-write rules.</summary>
public static class GuestRegisters
{
    public static int FrameOffset(Register full) => full switch
    {
        Register.RAX => StubFrame.Rax,
        Register.RBX => StubFrame.Rbx,
        Register.RCX => StubFrame.Rcx,
        Register.RDX => StubFrame.Rdx,
        Register.RSI => StubFrame.Rsi,
        Register.RDI => StubFrame.Rdi,
        Register.RBP => StubFrame.Rbp,
        Register.RSP => StubFrame.Rsp,
        Register.R8 => StubFrame.R8,
        Register.R9 => StubFrame.R9,
        Register.R10 => StubFrame.R10,
        Register.R11 => StubFrame.R11,
        Register.R12 => StubFrame.R12,
        Register.R13 => StubFrame.R13,
        Register.R14 => StubFrame.R14,
        Register.R15 => StubFrame.R15,
        _ => -1,
    };

    /// <summary>32-bit writes zero the upper half; 8- and 16-bit writes keep the rest (AH..BH are refused).</summary>
    public static bool TryWrite(Vcpu v, Register r, ulong value)
    {
        if (r is Register.AH or Register.BH or Register.CH or Register.DH)
        {
            return false;
        }

        int offset = FrameOffset(r.GetFullRegister());
        if (offset < 0)
        {
            return false;
        }

        ulong old = v.FrameGet(offset);
        ulong result = r.GetSize() switch
        {
            8 => value,
            4 => value & 0xffffffff,
            2 => (old & ~0xffffUL) | (value & 0xffff),
            1 => (old & ~0xffUL) | (value & 0xff),
            _ => old,
        };
        v.FrameSet(offset, result);
        return true;
    }
}
