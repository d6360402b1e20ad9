namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// A machine-neutral snapshot of a vCPU's real registers, read by the machine layer when the stub's own frame cannot
/// be trusted (a fault in ring 0, a triple fault), for <see cref="Pv.CrashReport"/>. <see cref="Error"/>: why they
/// could not be read (the other fields are then zero).
/// </summary>
internal sealed record MachineRegisters(
    ulong Rax, ulong Rbx, ulong Rcx, ulong Rdx, ulong Rsi, ulong Rdi, ulong R8, ulong Rip, ulong Rsp,
    ulong Cr2, ulong Cr3, ushort Cs, string? Error = null)
{
    public static MachineRegisters Unavailable(string error) => new(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, error);
}
