namespace XenSharp.Abi;

/// <summary>
/// The 64-bit vcpu_guest_context (arch-x86/xen.h; 5168 bytes) that VCPUOP_initialise takes, and its cpu_user_regs
/// (arch-x86/xen-x86_64.h; 200 bytes at <see cref="UserRegs"/>).
/// </summary>
public static class VcpuGuestContextLayout
{
    public const int Size = 5168;
    public const int FpuContext = 0;
    public const int Flags = 512;
    public const int UserRegs = 520;
    public const int TrapContext = 720;         // trap_info[256], indexed by vector
    public const int LdtBase = 4816;
    public const int LdtEntries = 4824;
    public const int GdtFrames = 4832;          // u64[16]
    public const int GdtFrameCount = 16;
    public const int GdtEntries = 4960;
    public const int KernelSs = 4968;
    public const int KernelSp = 4976;
    public const int ControlRegisters = 4984;   // u64[8]: [1] user CR3, [3] kernel CR3 (xen_pfn_to_cr3 = mfn << 12)
    public const int DebugRegisters = 5048;     // u64[8]
    public const int EventCallback = 5112;
    public const int FailsafeCallback = 5120;
    public const int SyscallCallback = 5128;
    public const int VmAssist = 5136;
    public const int FsBase = 5144;
    public const int GsBaseKernel = 5152;
    public const int GsBaseUser = 5160;

    public const ulong FlagI387Valid = 1 << 0;
    public const ulong FlagInKernel = 1 << 2;
    public const ulong FlagFailsafeDisablesEvents = 1 << 3;
    public const ulong FlagSyscallDisablesEvents = 1 << 4;
    public const ulong FlagOnline = 1 << 5;

    // cpu_user_regs, relative to UserRegs.
    public const int R15 = 0;
    public const int R14 = 8;
    public const int R13 = 16;
    public const int R12 = 24;
    public const int Rbp = 32;
    public const int Rbx = 40;
    public const int R11 = 48;
    public const int R10 = 56;
    public const int R9 = 64;
    public const int R8 = 72;
    public const int Rax = 80;
    public const int Rcx = 88;
    public const int Rdx = 96;
    public const int Rsi = 104;
    public const int Rdi = 112;
    public const int Rip = 128;
    public const int Cs = 136;
    public const int Rflags = 144;
    public const int Rsp = 152;
    public const int Ss = 160;
    public const int Es = 168;
    public const int Ds = 176;
    public const int Fs = 184;
    public const int Gs = 192;
}
