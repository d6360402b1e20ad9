using XenSharp.Hypervisor.Pv.Policy;

namespace XenSharp.Tests.Emulation;

/// <summary>Host CPUID tables for the policy tests.</summary>
internal static class HostCpuid
{
    /// <summary>KVM_GET_SUPPORTED_CPUID on this project's machine (kvm_pvm on an AMD EPYC), as captured.</summary>
    public static IReadOnlyList<HostCpuidLeaf> PvmAmd { get; } =
    [
        new(0x0, 0, 0, 0x0000000d, 0x68747541, 0x444d4163, 0x69746e65),
        new(0x1, 0, 0, 0x00a00f11, 0x00020800, 0x81202000, 0x078bfbff),
        new(0x6, 0, 0, 0x00000004, 0, 0, 0),
        new(0x7, 0, 1, 0x00000000, 0x01800002, 0x00000004, 0x20000000),
        new(0xd, 0, 1, 0x00000007, 0x00000340, 0x00000340, 0),
        new(0xd, 1, 1, 0, 0, 0, 0),
        new(0xd, 2, 1, 0x00000100, 0x00000240, 0, 0),
        new(0x80000000, 0, 0, 0x80000021, 0x68747541, 0x444d4163, 0x69746e65),
        new(0x80000001, 0, 0, 0x00a00f11, 0x40000000, 0x00400393, 0x23d3fbff),
        new(0x80000005, 0, 0, 0xff40ff40, 0xff40ff40, 0x20080140, 0x20080140),
        new(0x80000006, 0, 0, 0x48002200, 0x68004200, 0x02006140, 0x08009140),
        new(0x80000007, 0, 0, 0, 0, 0, 0x00000100),
        new(0x80000008, 0, 0, 0x00003030, 0x10000005, 0x00007001, 0),
        new(0x8000001a, 0, 0, 0x00000002, 0, 0, 0),
        new(0x8000001d, 0, 1, 0x00000121, 0x01c0003f, 0x0000003f, 0),
        new(0x80000021, 0, 0, 0x00000204, 0, 0x00000006, 0),
        new(0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x0000004d), // KVMKVMKVM
        new(0x40000001, 0, 0, 0x01007efb, 0, 0, 0),
    ];

    /// <summary>
    /// KVM_GET_SUPPORTED_CPUID of kvm_amd on QEMU's EPYC model (the hardware lane): XSAVE (XSAVEOPT, XSAVEC, XGETBV1 and,
    /// added here, XSAVES), AVX, AVX2, FMA, F16C, BMI1/2; x87|SSE|YMM state; no brand string (KVM zeroes it).
    /// </summary>
    public static IReadOnlyList<HostCpuidLeaf> Epyc { get; } =
    [
        new(0x0, 0, 0, 0x0000000d, 0x68747541, 0x444d4163, 0x69746e65),
        new(0x1, 0, 0, 0x00800f12, 0x00000800, 0xf7f83203, 0x078bfbff),
        new(0x7, 0, 1, 0x00000000, 0x209c01a9, 0, 0),
        new(0xd, 0, 1, 0x00000007, 0x00000340, 0x00000340, 0),
        new(0xd, 1, 1, 0x0000000f, 0x00000340, 0, 0),
        new(0xd, 2, 1, 0x00000100, 0x00000240, 0, 0),
        new(0x80000000, 0, 0, 0x8000001f, 0x68747541, 0x444d4163, 0x69746e65),
        new(0x80000001, 0, 0, 0x00800f12, 0, 0x004003f7, 0x2fd3fbff),
        new(0x80000002, 0, 0, 0, 0, 0, 0),
        new(0x80000005, 0, 0, 0xff40ff40, 0xff40ff40, 0x40020140, 0x40020140),
        new(0x80000006, 0, 0, 0x00000000, 0x42004200, 0x02008140, 0x00808140),
        new(0x80000008, 0, 0, 0x00003030, 0, 0, 0),
    ];

    /// <summary>An AVX-512 host (Intel, Skylake-SP style): x87 SSE YMM OPMASK ZMM_Hi256 Hi16_ZMM PKRU state.</summary>
    public static IReadOnlyList<HostCpuidLeaf> Avx512Intel { get; } =
    [
        new(0x0, 0, 0, 0x00000016, 0x756e6547, 0x6c65746e, 0x49656e69),
        new(0x1, 0, 0, 0x00050654, 0x00000800, 0xf6fa3203, 0x0f8bfbff),
        new(0x7, 0, 1, 0x00000000, 0xd19f4fbb, 0x00005e4a, 0x00800000), // AVX2 AVX512F/DQ/CD/BW/VL MPX; VBMI PKU VBMI2 VAES VPCLMULQDQ VNNI BITALG VPOPCNTDQ; FP16
        new(0xd, 0, 1, 0x000002e7, 0x00000a88, 0x00000a88, 0),
        new(0xd, 1, 1, 0x0000000f, 0x00000a88, 0, 0),
        new(0xd, 2, 1, 0x00000100, 0x00000240, 0, 0),
        new(0xd, 5, 1, 0x00000040, 0x00000440, 0, 0),
        new(0xd, 6, 1, 0x00000200, 0x00000480, 0, 0),
        new(0xd, 7, 1, 0x00000400, 0x00000680, 0, 0),
        new(0xd, 9, 1, 0x00000008, 0x00000a80, 0, 0),
        new(0x80000000, 0, 0, 0x80000008, 0, 0, 0),
        new(0x80000001, 0, 0, 0, 0, 0x00000121, 0x2c100800),
    ];

    /// <summary>A feature-rich Intel host: VMX, MONITOR, x2APIC, TSC-deadline, PCID, XSAVE/AVX, FSGSBASE, SMEP/SMAP, INVPCID, RTM.</summary>
    public static IReadOnlyList<HostCpuidLeaf> RichIntel { get; } =
    [
        new(0x0, 0, 0, 0x00000016, 0x756e6547, 0x6c65746e, 0x49656e69),
        new(0x1, 0, 0, 0x000906ea, 0x05100800, 0xfffaf3ff, 0xbfebfbff),
        new(0x2, 0, 0, 0x76036301, 0x00f0b5ff, 0, 0x00c30000),
        new(0x4, 0, 1, 0x1c004121, 0x01c0003f, 0x0000003f, 0),
        new(0x4, 1, 1, 0x1c004122, 0x01c0003f, 0x0000003f, 0),
        new(0x4, 2, 1, 0x00000000, 0, 0, 0),
        new(0x5, 0, 0, 0x40, 0x40, 3, 0x11142120),
        new(0x6, 0, 0, 0x27f7, 2, 9, 0),
        new(0x7, 0, 1, 0x00000000, 0x029c6fbf, 0x40000000, 0xbc000400),
        new(0xa, 0, 0, 0x07300404, 0, 0, 0x603),
        new(0xb, 0, 1, 1, 2, 0x100, 5),
        new(0xd, 0, 1, 0x1f, 0x440, 0x440, 0),
        new(0xd, 1, 1, 0x0f, 0x3c0, 0x100, 0),         // XSAVEOPT XSAVEC XGETBV1 XSAVES (XSS: PT)
        new(0xd, 2, 1, 0x100, 0x240, 0, 0),
        new(0xd, 3, 1, 0x40, 0x3c0, 0, 0),             // MPX BNDREGS
        new(0xd, 4, 1, 0x40, 0x400, 0, 0),             // MPX BNDCSR
        new(0xd, 8, 1, 0x80, 0, 1, 0),                 // PT (supervisor state)
        new(0x80000000, 0, 0, 0x80000008, 0, 0, 0),
        new(0x80000001, 0, 0, 0, 0, 0x00000121, 0x2c100800),
        new(0x80000006, 0, 0, 0, 0, 0x01006040, 0),
        new(0x80000007, 0, 0, 0, 0, 0, 0x100),
        new(0x80000008, 0, 0, 0x00003027, 0, 0, 0),
    ];
}
