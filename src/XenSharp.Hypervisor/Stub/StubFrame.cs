namespace XenSharp.Hypervisor.Stub;

/// <summary>
/// The register frame the stub saves at the top of a vCPU's ring-0 stack on every entry from the guest
/// (exception, interrupt, system call). The host reads and edits it in memory; the stub restores from it and
/// returns with iretq. Offsets from the frame base, low to high.
/// </summary>
internal static class StubFrame
{
    public const int Cr2 = 0;
    public const int R15 = 8;
    public const int R14 = 16;
    public const int R13 = 24;
    public const int R12 = 32;
    public const int Rbp = 40;
    public const int Rbx = 48;
    public const int R11 = 56;
    public const int R10 = 64;
    public const int R9 = 72;
    public const int R8 = 80;
    public const int Rax = 88;
    public const int Rcx = 96;
    public const int Rdx = 104;
    public const int Rsi = 112;
    public const int Rdi = 120;
    public const int Vector = 128;
    public const int ErrorCode = 136;
    public const int Rip = 144;
    public const int Cs = 152;
    public const int Rflags = 160;
    public const int Rsp = 168;
    public const int Ss = 176;
    public const int Size = 184;
}
