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
        new(0x80000000, 0, 0, 0x80000008, 0, 0, 0),
        new(0x80000001, 0, 0, 0, 0, 0x00000121, 0x2c100800),
        new(0x80000006, 0, 0, 0, 0, 0x01006040, 0),
        new(0x80000007, 0, 0, 0, 0, 0, 0x100),
        new(0x80000008, 0, 0, 0x00003027, 0, 0, 0),
    ];
}
