using XenSharp.Hypervisor.Pv.Policy;
using Xunit;

namespace XenSharp.Tests.Emulation;

/// <summary>The PV CPUID policy: Xen's hypervisor leaves, what is hidden from PV guests, vendor clean-ups.</summary>
public sealed class CpuidPolicyTests : EmulationFixture
{
    private static readonly PvCpuidPolicy Intel = new(HostCpuid.RichIntel, tscKhz: 3_000_000);

    [Fact]
    public void HypervisorLeavesAreXens()
    {
        Assert.Equal(new CpuidResult(0x40000005, 0x566e6558, 0x65584d4d, 0x4d4d566e), Policy.Query(V, 0x40000000, 0, forced: true));
        Assert.Equal(new CpuidResult((4 << 16) | 17, 0, 0, 0), Policy.Query(V, 0x40000001, 0, forced: true));
        Assert.Equal(new CpuidResult(1, 0x40000000, 1, 0), Policy.Query(V, 0x40000002, 0, forced: true));
        Assert.Equal(default, Policy.Query(V, 0x40000004, 0, forced: true));
        Assert.Equal(default, Policy.Query(V, 0x40000006, 0, forced: true));
        Assert.Equal(default, Policy.Query(V, 0x40000100, 0, forced: true));
        Assert.Equal(default, Policy.Query(V, 0x400001ff, 0, forced: true));
    }

    [Fact]
    public void TimeLeafCarriesTheTscFrequencyAndScale()
    {
        // Host has an invariant TSC (bit 1) but no RDTSCP (bit 2); TSC not emulated; tsc_mode 0.
        Assert.Equal(new CpuidResult(2, 0, 2_000_000, 0), Policy.Query(V, 0x40000003, 0, forced: true));
        CpuidResult scale = Policy.Query(V, 0x40000003, 1, forced: true);
        (uint mul, int shift) = PvCpuidPolicy.TimeScale(2_000_000_000);
        Assert.Equal(new CpuidResult(0, 0, mul, unchecked((uint)shift)), scale);
        Assert.Equal(0, shift);
        Assert.Equal(0x80000000u, mul); // 2 GHz: half a nanosecond per tick
        Assert.Equal(new CpuidResult(2_000_000, 0, 0, 0), Policy.Query(V, 0x40000003, 2, forced: true));
        Assert.Equal(default, Policy.Query(V, 0x40000003, 3, forced: true));
    }

    [Fact]
    public void PvLeafGivesTheMachineAddressWidth()
    {
        uint bits = PvCpuidPolicy.MachineAddressBits(Hv.Pool.TotalFrames);
        Assert.Equal(new CpuidResult(0, bits, 0, 0), Policy.Query(V, 0x40000005, 0, forced: true));
        Assert.Equal(default, Policy.Query(V, 0x40000005, 1, forced: true));
        Assert.Equal(39u, PvCpuidPolicy.MachineAddressBits(1UL << 27)); // 512 GiB
        Assert.Equal(24u, PvCpuidPolicy.MachineAddressBits(4096));      // 16 MiB
    }

    [Fact]
    public void KvmSignatureIsReplacedAndLeaf1ShowsAHypervisor()
    {
        CpuidResult l1 = Policy.Query(1, 0);
        Assert.NotEqual(0u, l1.Ecx & (1u << 31));       // HYPERVISOR
        Assert.Equal(0u, l1.Ecx & (1u << 21));          // x2APIC hidden
        Assert.Equal(0u, l1.Ecx & (1u << 24));          // TSC-deadline hidden
        Assert.Equal(0u, l1.Ebx >> 24);                 // APIC ID 0
        Assert.Equal(0u, l1.Edx & ((1u << 3) | (1u << 12) | (1u << 13) | (1u << 17))); // PSE MTRR PGE PSE36
        Assert.Equal(0u, l1.Edx & (1u << 11));          // SEP: unusable on AMD in long mode
        Assert.NotEqual(0u, l1.Edx & (1u << 26));       // SSE2 kept
        Assert.Equal(0xa00f11u, l1.Eax);
    }

    [Fact]
    public void AmdHostCleanUps()
    {
        Assert.Equal(CpuVendor.Amd, Policy.Vendor);
        Assert.Equal(0x0du, Policy.Query(0, 0).Eax);
        Assert.Equal(0x80000021u, Policy.Query(0x80000000, 0).Eax);
        CpuidResult e1 = Policy.Query(0x80000001, 0);
        Assert.Equal(0u, e1.Ecx & (1u << 2));           // SVM
        Assert.Equal(0u, e1.Ecx & (1u << 4));           // CR8_LEGACY
        Assert.Equal(0u, e1.Edx & (1u << 26));          // 1 GiB pages
        Assert.NotEqual(0u, e1.Edx & (1u << 29));       // LM
        Assert.NotEqual(0u, e1.Edx & (1u << 11));       // SYSCALL
        Assert.Equal(Policy.Query(1, 0).Edx & 0x0183f3ffu, e1.Edx & 0x0183f3ffu); // common bits copied from leaf 1
        Assert.Equal(default, Policy.Query(0x8000000a, 0)); // no SVM leaf
        Assert.Equal(default, Policy.Query(0x8000001d, 0)); // TopoExt cache hidden
        Assert.Equal(new CpuidResult(0x3030, 0x5, 0x7001, 0), Policy.Query(0x80000008, 0)); // CLZERO, RSTR_FP_ERR_PTRS
        Assert.Equal(default, Policy.Query(6, 0));          // thermal/power hidden
        Assert.Equal(default, Policy.Query(0xd, 0));        // kvm_pvm offers no XSAVE: leaf 0xd empty
        Assert.Equal(default, Policy.Query(0x80000022, 0)); // past the max
        Assert.Equal(default, Policy.Query(0x0e, 0));
        Assert.Equal(default, Policy.Query(0xc0000000, 0));
        CpuidResult l7 = Policy.Query(7, 0);
        Assert.Equal(new CpuidResult(0, 1u << 23 | 1u << 24, 0, 0), l7); // CLFLUSHOPT CLWB; TSC_ADJUST, UMIP, ARCH_CAPS hidden
    }

    [Fact]
    public void IntelHostHidesWhatXenHidesFromPv()
    {
        Assert.Equal(CpuVendor.Intel, Intel.Vendor);
        CpuidResult l1 = Intel.Query(1, 0);
        uint hiddenEcx = (1u << 3) | (1u << 5) | (1u << 6) | (1u << 7) | (1u << 8) | (1u << 17) | (1u << 21) | (1u << 24)
            | (1u << 27) | (1u << 2) | (1u << 14) | (1u << 15);
        Assert.Equal(0u, l1.Ecx & hiddenEcx); // MONITOR VMX SMX EIST TM2 PCID x2APIC TSC-deadline OSXSAVE DTES64 xTPR PDCM
        uint xsaveFamily = (1u << 26) | (1u << 28) | (1u << 12) | (1u << 29);
        Assert.Equal(xsaveFamily, l1.Ecx & xsaveFamily); // XSAVE AVX FMA F16C, as Xen's PV default
        Assert.NotEqual(0u, l1.Ecx & (1u << 0));   // SSE3
        Assert.NotEqual(0u, l1.Ecx & (1u << 30));  // RDRAND
        Assert.NotEqual(0u, l1.Edx & (1u << 11));  // SEP stays on Intel
        Assert.NotEqual(0u, l1.Edx & (1u << 28));  // HTT as the host
        CpuidResult l7 = Intel.Query(7, 0);
        uint hiddenEbx = (1u << 0) | (1u << 1) | (1u << 2) | (1u << 4) | (1u << 7) | (1u << 10) | (1u << 14) | (1u << 20) | (1u << 25);
        Assert.Equal(0u, l7.Ebx & hiddenEbx); // FSGSBASE TSC_ADJUST SGX HLE SMEP INVPCID MPX SMAP PT
        Assert.NotEqual(0u, l7.Ebx & (1u << 5));  // AVX2
        Assert.NotEqual(0u, l7.Ebx & (1u << 11)); // RTM
        Assert.NotEqual(0u, l7.Ebx & (1u << 9));  // ERMS as the host
        Assert.Equal(1u << 10, l7.Edx);           // MD_CLEAR only: no spec-ctrl MSRs, no ARCH_CAPS
        Assert.Equal(0u, l7.Ecx);                 // PKU hidden
        Assert.Equal(default, Intel.Query(5, 0));  // MONITOR leaf
        Assert.Equal(default, Intel.Query(0xa, 0)); // vPMU off
        Assert.Equal(default, Intel.Query(0xb, 0)); // topology
        Assert.Equal(new CpuidResult(0x1c004121, 0x01c0003f, 0x3f, 0), Intel.Query(4, 0));
        Assert.Equal(default, Intel.Query(4, 2));
        Assert.Equal(new CpuidResult(0x80000008, 0, 0, 0), Intel.Query(0x80000000, 0)); // no vendor string in 0x80000000 on Intel
        Assert.Equal(new CpuidResult(0, 0, 0x121, 0x28100800), Intel.Query(0x80000001, 0)); // 1 GiB pages hidden
        Assert.Equal(new CpuidResult(0x3027, 0, 0, 0), Intel.Query(0x80000008, 0));
        Assert.Equal(new CpuidResult(6, 0, 3_000_000, 0), Intel.Query(V, 0x40000003, 0, forced: false)); // reliable TSC, RDTSCP
    }

    [Fact]
    public void OsxsaveAndOspkeFollowTheGuestsCr4()
    {
        V.VirtualCr4 |= (1UL << 18) | (1UL << 22);
        Assert.NotEqual(0u, Intel.Query(V, 1, 0, forced: true).Ecx & (1u << 27));
        Assert.Equal(0u, Intel.Query(1, 0).Ecx & (1u << 27));
        Assert.Equal(Intel.Query(7, 0).Ecx | (1u << 4), Intel.Query(V, 7, 0, forced: true).Ecx);
        Assert.True(Intel.HasXsave);
        Assert.False(Intel.HasFsgsbase);
    }
}
