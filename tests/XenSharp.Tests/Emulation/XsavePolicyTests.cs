using XenSharp.Hypervisor.Pv.Policy;
using Xunit;

namespace XenSharp.Tests.Emulation;

/// <summary>
/// The XSAVE family in the PV CPUID policy, as Xen's default PV policy has it: offered where the host has it, with Xen's
/// dependencies, leaf 0xd sized for the XCR0 bits offered, and OSXSAVE from the guest's CR4 (plus Xen's PV leak).
/// </summary>
public sealed class XsavePolicyTests : EmulationFixture
{
    private const uint Fma = 1u << 12, Xsave = 1u << 26, Osxsave = 1u << 27, Avx = 1u << 28, F16c = 1u << 29;
    private const uint Bmi1 = 1u << 3, Avx2 = 1u << 5, Bmi2 = 1u << 8, Avx512f = 1u << 16, Avx512bw = 1u << 30;

    private static readonly PvCpuidPolicy Epyc = new(HostCpuid.Epyc);
    private static readonly PvCpuidPolicy Intel = new(HostCpuid.RichIntel);
    private static readonly PvCpuidPolicy Avx512 = new(HostCpuid.Avx512Intel);

    public XsavePolicyTests()
        : base(HostCpuid.Epyc)
    {
    }

    [Fact]
    public void EpycOffersXsaveAvxAndTheVexExtensions()
    {
        CpuidResult l1 = Epyc.Query(1, 0);
        Assert.Equal(Fma | Xsave | Avx | F16c, l1.Ecx & (Fma | Xsave | Avx | F16c));
        Assert.Equal(0u, l1.Ecx & Osxsave);                     // only per vCPU
        CpuidResult l7 = Epyc.Query(7, 0);
        Assert.Equal(Bmi1 | Avx2 | Bmi2, l7.Ebx & (Bmi1 | Avx2 | Bmi2));
        Assert.Equal(0u, l7.Ebx & 1);                           // FSGSBASE still hidden
        Assert.True(Epyc.HasXsave);
        Assert.Equal(0x7UL, Epyc.Xcr0Max);
    }

    [Fact]
    public void LeafDIsSizedForTheOfferedStateComponents()
    {
        Assert.Equal(new CpuidResult(7, 0, 0x340, 0), Epyc.Query(0xd, 0)); // x87|SSE|YMM, 832 bytes at most; EBX per vCPU
        Assert.Equal(new CpuidResult(7, 0, 0, 0), Epyc.Query(0xd, 1));     // XSAVEOPT XSAVEC XGETBV1, no XSAVES, no XSS
        Assert.Equal(new CpuidResult(0x100, 0x240, 0, 0), Epyc.Query(0xd, 2));
        Assert.Equal(default, Epyc.Query(0xd, 3));
        Assert.Equal(default, Epyc.Query(0xd, 63));

        // Intel with MPX and PT: neither is in Xen's PV default; XCR0 stays x87|SSE|YMM.
        Assert.Equal(new CpuidResult(7, 0, 0x340, 0), Intel.Query(0xd, 0));
        Assert.Equal(default, Intel.Query(0xd, 3));
        Assert.Equal(default, Intel.Query(0xd, 8));
        Assert.Equal(0u, Intel.Query(7, 0).Ebx & (1u << 14));   // MPX
    }

    [Fact]
    public void EbxFollowsTheVcpusXcr0()
    {
        Assert.Equal(576u, Policy.Query(V, 0xd, 0, forced: true).Ebx);  // x87|SSE until the first XSETBV
        Assert.Equal(576u, Policy.Query(V, 0xd, 1, forced: true).Ebx);
        V.Emulation.Xcr0 = 7;
        Assert.Equal(832u, Policy.Query(V, 0xd, 0, forced: true).Ebx);
        Assert.Equal(832u, Policy.Query(V, 0xd, 1, forced: true).Ebx);
        Assert.Equal(0x340u, Policy.Query(V, 0xd, 0, forced: true).Ecx);
    }

    [Fact]
    public void Avx512IsOfferedWithItsThreeStateComponents()
    {
        Assert.Equal(0xe7UL, Avx512.Xcr0Max);                   // no PKRU: PKU is HVM-only in Xen
        CpuidResult d0 = Avx512.Query(0xd, 0);
        Assert.Equal(0xe7u, d0.Eax);
        Assert.Equal(0xa80u, d0.Ecx);                           // Hi16_ZMM ends at 0x680 + 0x400
        Assert.Equal(default, Avx512.Query(0xd, 9));
        CpuidResult l7 = Avx512.Query(7, 0);
        Assert.Equal(Avx512f | Avx512bw, l7.Ebx & (Avx512f | Avx512bw));
        Assert.Equal(0u, l7.Ecx & (1u << 3));                   // PKU
        Assert.NotEqual(0u, l7.Ecx & (1u << 1));                // AVX512_VBMI
        Assert.NotEqual(0u, l7.Edx & (1u << 23));               // AVX512_FP16
        Assert.Equal(0x340u + 0x40 + 0x200 + 0x400, Avx512.XsaveCompactedSize(0xe7)); // 576 + YMM, then the AVX-512 components packed
    }

    [Fact]
    public void WithoutItsStateComponentsAFeatureGoesWithItsDependants()
    {
        // The host's XCR0 lacks ZMM: AVX-512 and everything built on it is hidden, AVX2 stays.
        var noZmm = new PvCpuidPolicy(With(HostCpuid.Avx512Intel, new HostCpuidLeaf(0xd, 0, 1, 0x27, 0x340, 0x340, 0)));
        CpuidResult l7 = noZmm.Query(7, 0);
        Assert.Equal(0u, l7.Ebx & (Avx512f | Avx512bw | (1u << 17) | (1u << 28) | (1u << 31)));
        Assert.Equal(0u, l7.Ecx & ((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14)));
        Assert.Equal(0u, l7.Edx & (1u << 23));
        Assert.NotEqual(0u, l7.Ebx & Avx2);
        Assert.NotEqual(0u, l7.Ecx & ((1u << 9) | (1u << 10)));  // VAES VPCLMULQDQ hang on AVX2, not AVX-512
        Assert.Equal(7UL, noZmm.Xcr0Max);

        // No YMM state: AVX, FMA, F16C, AVX2 go; XSAVE stays with x87|SSE.
        var noYmm = new PvCpuidPolicy(With(HostCpuid.Epyc, new HostCpuidLeaf(0xd, 0, 1, 0x3, 0x240, 0x240, 0)));
        Assert.Equal(Xsave, noYmm.Query(1, 0).Ecx & (Fma | Xsave | Avx | F16c));
        Assert.Equal(0u, noYmm.Query(7, 0).Ebx & Avx2);
        Assert.Equal(Bmi1 | Bmi2, noYmm.Query(7, 0).Ebx & (Bmi1 | Bmi2)); // GPR instructions: no xstate needed
        Assert.Equal(new CpuidResult(3, 0, 576, 0), noYmm.Query(0xd, 0));
        Assert.Equal(default, noYmm.Query(0xd, 2));

        // No XSAVE at all: AVX is unusable although the host lists it; leaf 0xd reads zero.
        var noXsave = new PvCpuidPolicy(With(HostCpuid.Epyc, new HostCpuidLeaf(1, 0, 0, 0x00800f12, 0x800, 0xf7f83203 & ~Xsave, 0x078bfbff)));
        Assert.Equal(0u, noXsave.Query(1, 0).Ecx & (Fma | Xsave | Avx | F16c));
        Assert.Equal(0u, noXsave.Query(7, 0).Ebx & Avx2);
        Assert.Equal(default, noXsave.Query(0xd, 0));
        Assert.Equal(default, noXsave.Query(0xd, 1));
        Assert.Equal(0UL, noXsave.Xcr0Max);
        Assert.False(noXsave.HasXsave);
    }

    [Fact]
    public void OsxsaveFollowsCr4AndLeaksIntoTheKernelsForcedView()
    {
        // Xen's PV quirk: the kernel's forced-emulation CPUID shows OSXSAVE while XSAVE is offered, whatever its CR4.
        Assert.NotEqual(0u, Policy.Query(V, 1, 0, forced: true).Ecx & Osxsave);
        Assert.Equal(0u, Policy.Query(V, 1, 0, forced: false).Ecx & Osxsave);
        V.SetKernelMode(false);
        Assert.Equal(0u, Policy.Query(V, 1, 0, forced: true).Ecx & Osxsave);
        V.VirtualCr4 |= 1UL << 18;
        Assert.NotEqual(0u, Policy.Query(V, 1, 0, forced: true).Ecx & Osxsave);
        Assert.NotEqual(0u, Policy.Query(V, 1, 0, forced: false).Ecx & Osxsave);

        // Without XSAVE offered there is nothing to leak.
        var pvm = new PvCpuidPolicy(HostCpuid.PvmAmd);
        V.SetKernelMode(true);
        V.VirtualCr4 &= ~(1UL << 18);
        Assert.Equal(0u, pvm.Query(V, 1, 0, forced: true).Ecx & Osxsave);
    }

    [Fact]
    public void QueryingLeafDAllocatesNothing()
    {
        V.Emulation.Xcr0 = 7;
        uint sum = 0;
        Action query = () => sum += Policy.Query(V, 0xd, 0, forced: true).Ebx + Policy.Query(V, 1, 0, forced: true).Ecx;

        Assert.Equal(0, Allocations.LeastPer1000(query));
        Assert.NotEqual(0u, sum);
    }

    private static HostCpuidLeaf[] With(IReadOnlyList<HostCpuidLeaf> host, HostCpuidLeaf replacement) =>
        host.Select(e => e.Function == replacement.Function && e.Index == replacement.Index ? replacement : e).ToArray();
}
