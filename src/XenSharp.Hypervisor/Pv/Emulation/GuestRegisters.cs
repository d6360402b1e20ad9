using Iced.Intel;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Pv.Emulation;

/// <summary>The guest's general registers in the vCPU's stub frame, addressed by Iced register names.</summary>
internal static class GuestRegisters
{
    public const ulong FlagsTrap = 1UL << 8;
    public const ulong FlagsDirection = 1UL << 10;
    public const ulong FlagsResume = 1UL << 16;

    /// <summary>The frame slot of a general register of any size (EAX, AX, AL and RAX share one).</summary>
    public static int Offset(Register r)
    {
        int offset = TryOffset(r.GetFullRegister());
        return offset >= 0 ? offset : throw new ArgumentOutOfRangeException(nameof(r), r, "not a general register");
    }

    /// <summary>The frame slot of a full-width general register, or -1 for any other register.</summary>
    public static int TryOffset(Register full) => full switch
    {
        Register.RAX => StubFrame.Rax,
        Register.RCX => StubFrame.Rcx,
        Register.RDX => StubFrame.Rdx,
        Register.RBX => StubFrame.Rbx,
        Register.RSP => StubFrame.Rsp,
        Register.RBP => StubFrame.Rbp,
        Register.RSI => StubFrame.Rsi,
        Register.RDI => StubFrame.Rdi,
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

    /// <summary>The register's value at its own size (zero-extended).</summary>
    public static ulong Get(Vcpu v, Register r)
    {
        ulong full = v.FrameGet(Offset(r));
        return r.GetSize() switch
        {
            1 => full & 0xff,
            2 => full & 0xffff,
            4 => full & 0xffffffff,
            _ => full,
        };
    }

    /// <summary>Writes <paramref name="bytes"/> bytes of a register as the CPU does: 1 and 2 merge, 4 zero-extends, 8 replaces.</summary>
    public static void Set(Vcpu v, int offset, ulong value, int bytes)
    {
        ulong merged = bytes switch
        {
            1 => (v.FrameGet(offset) & ~0xffUL) | (value & 0xff),
            2 => (v.FrameGet(offset) & ~0xffffUL) | (value & 0xffff),
            4 => value & 0xffffffff,
            _ => value,
        };
        v.FrameSet(offset, merged);
    }

    /// <summary>Writes a register named by Iced at its own size.</summary>
    public static void Set(Vcpu v, Register r, ulong value) => Set(v, Offset(r), value, r.GetSize());

    /// <summary>EDX:EAX ← value (RDMSR, RDTSC): each half zero-extended.</summary>
    public static void SetEdxEax(Vcpu v, ulong value)
    {
        v.FrameSet(StubFrame.Rax, value & 0xffffffff);
        v.FrameSet(StubFrame.Rdx, value >> 32);
    }
}
