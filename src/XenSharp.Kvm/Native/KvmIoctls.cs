namespace XenSharp.Kvm.Native;

/// <summary>KVM ioctl request numbers, built as the kernel's _IO/_IOR/_IOW/_IOWR macros do (asm-generic/ioctl.h:
/// nr bits 0-7, type 8-15, size 16-29, direction 30-31). The argument sizes are the C struct sizes; unit tests pin each
/// number against gcc and each size against our structs.</summary>
internal static class KvmIoctls
{
    private const uint KvmType = 0xAE;
    private const int TypeShift = 8;
    private const int SizeShift = 16;
    private const int DirShift = 30;
    private const uint DirNone = 0;
    private const uint DirWrite = 1; // userspace writes, kernel reads
    private const uint DirRead = 2;

    public const uint SizeofKvmRegs = 144;
    public const uint SizeofKvmSregs = 312;
    public const uint SizeofKvmCpuid2 = 8;   // header only: the entries follow
    public const uint SizeofKvmMsrs = 8;     // header only
    public const uint SizeofKvmUserspaceMemoryRegion = 32;
    public const uint SizeofKvmMsi = 32;
    public const uint SizeofKvmDebugregs = 128;
    public const uint SizeofKvmFpu = 416;
    public const uint SizeofKvmXcrs = 392;   // nr_xcrs, flags, 16 x {xcr, reserved, value}, 16 x u64 padding

    // System (/dev/kvm) ioctls.
    public const uint GetApiVersion = (DirNone << DirShift) | (KvmType << TypeShift) | 0x00;
    public const uint CreateVm = (DirNone << DirShift) | (KvmType << TypeShift) | 0x01;
    public const uint CheckExtension = (DirNone << DirShift) | (KvmType << TypeShift) | 0x03;
    public const uint GetVcpuMmapSize = (DirNone << DirShift) | (KvmType << TypeShift) | 0x04;
    public const uint GetSupportedCpuid = ((DirRead | DirWrite) << DirShift) | (SizeofKvmCpuid2 << SizeShift) | (KvmType << TypeShift) | 0x05;

    // VM ioctls.
    public const uint CreateVcpu = (DirNone << DirShift) | (KvmType << TypeShift) | 0x41;
    public const uint SetUserMemoryRegion = (DirWrite << DirShift) | (SizeofKvmUserspaceMemoryRegion << SizeShift) | (KvmType << TypeShift) | 0x46;
    public const uint CreateIrqchip = (DirNone << DirShift) | (KvmType << TypeShift) | 0x60;
    public const uint SignalMsi = (DirWrite << DirShift) | (SizeofKvmMsi << SizeShift) | (KvmType << TypeShift) | 0xA5;

    // vCPU ioctls.
    public const uint Run = (DirNone << DirShift) | (KvmType << TypeShift) | 0x80;
    public const uint SetMpState = (DirWrite << DirShift) | (4u << SizeShift) | (KvmType << TypeShift) | 0x99;
    public const uint GetTscKhz = (DirNone << DirShift) | (KvmType << TypeShift) | 0xa3;
    public const uint GetRegs = (DirRead << DirShift) | (SizeofKvmRegs << SizeShift) | (KvmType << TypeShift) | 0x81;
    public const uint SetRegs = (DirWrite << DirShift) | (SizeofKvmRegs << SizeShift) | (KvmType << TypeShift) | 0x82;
    public const uint GetSregs = (DirRead << DirShift) | (SizeofKvmSregs << SizeShift) | (KvmType << TypeShift) | 0x83;
    public const uint GetDebugregs = (DirRead << DirShift) | (SizeofKvmDebugregs << SizeShift) | (KvmType << TypeShift) | 0xA1;
    public const uint SetDebugregs = (DirWrite << DirShift) | (SizeofKvmDebugregs << SizeShift) | (KvmType << TypeShift) | 0xA2;
    public const uint SetSregs = (DirWrite << DirShift) | (SizeofKvmSregs << SizeShift) | (KvmType << TypeShift) | 0x84;
    public const uint GetMsrs = ((DirRead | DirWrite) << DirShift) | (SizeofKvmMsrs << SizeShift) | (KvmType << TypeShift) | 0x88;
    public const uint SetMsrs = (DirWrite << DirShift) | (SizeofKvmMsrs << SizeShift) | (KvmType << TypeShift) | 0x89;
    public const uint GetFpu = (DirRead << DirShift) | (SizeofKvmFpu << SizeShift) | (KvmType << TypeShift) | 0x8c;
    public const uint SetFpu = (DirWrite << DirShift) | (SizeofKvmFpu << SizeShift) | (KvmType << TypeShift) | 0x8d;
    public const uint GetXcrs = (DirRead << DirShift) | (SizeofKvmXcrs << SizeShift) | (KvmType << TypeShift) | 0xa6;
    public const uint SetXcrs = (DirWrite << DirShift) | (SizeofKvmXcrs << SizeShift) | (KvmType << TypeShift) | 0xa7;
    public const uint SetCpuid2 = (DirWrite << DirShift) | (SizeofKvmCpuid2 << SizeShift) | (KvmType << TypeShift) | 0x90;
}
