using System.Runtime.InteropServices;

namespace XenSharp.Kvm;

/// <summary>General-purpose registers. Field order and size match struct kvm_regs exactly (144 bytes), so it is passed to
/// KVM_GET/SET_REGS and read out of the kvm_run sync-regs area without copying field by field.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct Registers
{
    public ulong Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rsp, Rbp;
    public ulong R8, R9, R10, R11, R12, R13, R14, R15;
    public ulong Rip, Rflags;
}
