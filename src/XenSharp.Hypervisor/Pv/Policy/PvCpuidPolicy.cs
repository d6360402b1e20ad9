using System.Numerics;
using System.Runtime.Intrinsics.X86;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Hypercalls;
using static XenSharp.Hypervisor.Pv.Policy.PvCpuidFeatures;

namespace XenSharp.Hypervisor.Pv.Policy;

/// <summary>
/// The CPUID a 64-bit PV guest sees through Xen's enlightened path (forced-emulation CPUID, and CPUID emulated on a
/// #GP), as Xen's guest_cpuid() gives it from the PV default policy (xen/arch/x86/cpu-policy.c, cpuid.c):
/// <list type="bullet">
/// <item>built from what the host offers (KVM's supported CPUID), leaf by leaf, with feature words masked by
/// <see cref="PvCpuidFeatures"/>, the HYPERVISOR bit set, the APIC ID cleared, and what Xen's recalculate_misc hides
/// (MONITOR, thermal/power, topology, PMU, SVM leaves; the vendor-specific clean-ups);</item>
/// <item>leaves out of range read as zero (the AMD model, as Xen does);</item>
/// <item>Xen's hypervisor leaves at 0x40000000–0x40000005 ("XenVMMXenVMM", version, hypercall-page MSR, time, PV
/// address width);</item>
/// <item>leaf 0xd as Xen's recalculate_xstate: the XCR0 components offered (x87, SSE, YMM with AVX, the AVX-512 three with
/// AVX512F) with the machine's sizes and offsets;</item>
/// <item>per-vCPU adjustments: OSXSAVE and OSPKE follow the guest's virtual CR4 (OSXSAVE also shown to the kernel's
/// forced-emulation CPUID whenever XSAVE is offered, Xen's PV quirk); leaf 0xd EBX follows the vCPU's XCR0.</item>
/// </list>
/// Immutable after construction, so one instance serves every domain (like Xen's pv_def_cpu_policy, which each domain
/// copies unchanged when the toolstack asks for nothing).
/// </summary>
internal sealed class PvCpuidPolicy
{
    public const uint HypervisorBase = 0x40000000;
    public const uint HypervisorMaxLeaf = HypervisorBase + 5;
    public const uint XenSignatureEbx = 0x566e6558; // "XenV"
    public const uint XenSignatureEcx = 0x65584d4d; // "MMXe"
    public const uint XenSignatureEdx = 0x4d4d566e; // "nVMM"
    public const uint HypercallPageMsr = 0x40000000;

    private const uint BasicLeaves = 0xd + 1;       // CPUID_GUEST_NR_BASIC
    private const uint CacheSubleaves = 5 + 1;      // CPUID_GUEST_NR_CACHE
    private const uint FeatureSubleaves = 2 + 1;    // CPUID_GUEST_NR_FEAT
    private const uint XstateSubleaves = 62 + 1;    // CPUID_GUEST_NR_XSTATE
    private const uint XsaveLegacyAndHeader = 512 + 64; // XSTATE_AREA_MIN_SIZE
    private const uint ExtendedLeavesIntel = 0x8 + 1;
    private const uint ExtendedLeavesAmd = 0x21 + 1;
    private const uint PreserveAdFeature = 1;       // XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD
    private const ulong Cr4Osxsave = 1UL << 18;
    private const ulong Cr4Pke = 1UL << 22;
    private const uint XstateAlign64 = 1u << 1;     // leaf 0xd:i ECX bit 1: 64-byte aligned in the compacted format

    private static PvCpuidPolicy? s_host;

    private readonly CpuidResult[] _basic = new CpuidResult[BasicLeaves];
    private readonly CpuidResult[] _cache = new CpuidResult[CacheSubleaves];
    private readonly CpuidResult[] _feature = new CpuidResult[FeatureSubleaves];
    private readonly CpuidResult[] _extended = new CpuidResult[ExtendedLeavesAmd];
    private readonly CpuidResult[] _xstate = new CpuidResult[XstateSubleaves];
    private readonly uint _featureMaxSubleaf;
    private readonly bool _hostTscReliable;
    private readonly bool _hostRdtscp;

    /// <param name="host">The host's CPUID leaves (KVM_GET_SUPPORTED_CPUID, or the processor's own).</param>
    /// <param name="tscKhz">The guest TSC frequency for the time leaf (0x40000003), 0 if not known.</param>
    public PvCpuidPolicy(IReadOnlyList<HostCpuidLeaf> host, uint tscKhz = 0)
    {
        TscKhz = tscKhz;
        CpuidResult leaf0 = Find(host, 0, 0);
        Vendor = VendorOf(leaf0);
        bool amd = Vendor is CpuVendor.Amd or CpuVendor.Hygon;
        BasicMaxLeaf = Math.Min(leaf0.Eax, BasicLeaves - 1);
        _basic[0] = leaf0 with { Eax = BasicMaxLeaf };

        CpuidResult l1 = Find(host, 1, 0);
        CpuidResult f0 = Find(host, 7, 0);
        _featureMaxSubleaf = Math.Min(f0.Eax, FeatureSubleaves - 1);
        CpuidResult f1 = _featureMaxSubleaf >= 1 ? Find(host, 7, 1) : default;
        CpuidResult e1 = Find(host, 0x80000001, 0);
        CpuidResult d0 = Find(host, 0xd, 0);
        ulong hostXcr0 = d0.Eax | ((ulong)d0.Edx << 32);
        var words = new FeatureWords(
            l1.Ecx & Leaf1Ecx, f0.Ebx & Leaf7Sub0Ebx, f0.Ecx & Leaf7Sub0Ecx, f0.Edx & Leaf7Sub0Edx,
            f1.Eax & Leaf7Sub1Eax, f1.Edx & Leaf7Sub1Edx, e1.Ecx & Ext1Ecx, Find(host, 0xd, 1).Eax & LeafDSub1Eax);
        Xcr0Max = ApplyXsaveDependencies(ref words, hostXcr0, describesXstate: BasicMaxLeaf >= 0xd);

        uint edx1 = (l1.Edx & Leaf1Edx) | (l1.Edx & Leaf1EdxHtt);
        if (amd)
        {
            edx1 &= ~Leaf1EdxSep; // Xen runs PV guests in long mode: SYSENTER is unusable on AMD
        }

        _basic[1] = new CpuidResult(
            l1.Eax & 0x0fff0fff,              // processor type clobbered
            l1.Ebx & 0x00ffffff,              // initial APIC ID: dynamic, 0 for PV
            words.Leaf1Ecx | Leaf1EcxHypervisor,
            edx1);

        if (Vendor == CpuVendor.Intel)
        {
            CpuidResult l2 = Find(host, 2, 0);
            _basic[2] = l2 with { Eax = (l2.Eax & ~0xffu) | 1 }; // l2_nr_queries fixed to 1
            for (uint i = 0; i < CacheSubleaves; i++)
            {
                CpuidResult c = Find(host, 4, i);
                uint type = c.Eax & 0x1f;
                if (type is < 1 or > 3)
                {
                    break; // the rest stays zero
                }

                _cache[i] = c with { Eax = c.Eax & 0xffffc3ff, Edx = c.Edx & 7 };
            }
        }

        // Leaves 3, 5 (MONITOR), 6 (thermal/power), 8, 9 (DCA), 0xa (vPMU off), 0xb (topology), 0xc stay zero.
        uint hostFpuQuirks = f0.Ebx & (Leaf7EbxFdpExcpOnly | Leaf7EbxNoFpuSel);
        _feature[0] = new CpuidResult(
            _featureMaxSubleaf,
            words.Leaf7Ebx | (f0.Ebx & Leaf7EbxErms) | hostFpuQuirks,
            words.Leaf7Ecx,
            words.Leaf7Edx | (Vendor == CpuVendor.Intel ? f0.Edx & Leaf7EdxMdClear : 0));
        if (_featureMaxSubleaf >= 1)
        {
            _feature[1] = new CpuidResult(words.Leaf7Sub1Eax, f1.Ebx & Leaf7Sub1Ebx, f1.Ecx & Leaf7Sub1Ecx, words.Leaf7Sub1Edx);
        }

        if (_featureMaxSubleaf >= 2)
        {
            _feature[2] = new CpuidResult(0, 0, 0, Find(host, 7, 2).Edx & Leaf7Sub2Edx);
        }

        CpuidResult e0 = Find(host, 0x80000000, 0);
        uint extendedCount = amd ? ExtendedLeavesAmd : ExtendedLeavesIntel;
        ExtendedMaxLeaf = (e0.Eax >> 16) == 0x8000 ? 0x80000000 | Math.Min(e0.Eax & 0xffff, extendedCount - 1) : 0x80000000;
        _extended[0] = amd ? e0 with { Eax = ExtendedMaxLeaf } : new CpuidResult(ExtendedMaxLeaf, 0, 0, 0);

        BuildXstate(host, words.LeafDSub1Eax);

        uint e1Edx = e1.Edx & Ext1Edx & ~Common1Edx;
        _extended[1] = amd
            ? new CpuidResult(_basic[1].Eax, e1.Ebx & 0xff00ffff, words.Ext1Ecx | (e1.Ecx & Ext1EcxCmpLegacy), e1Edx | (_basic[1].Edx & Common1Edx))
            : new CpuidResult(0, 0, words.Ext1Ecx, e1Edx);
        for (uint l = 2; l <= 4; l++)
        {
            _extended[l] = Find(host, 0x80000000 + l, 0); // brand string
        }

        CpuidResult e5 = Find(host, 0x80000005, 0);
        CpuidResult e6 = Find(host, 0x80000006, 0);
        _extended[5] = amd ? e5 : default;
        _extended[6] = amd ? e6 : new CpuidResult(0, 0, e6.Ecx, 0);
        CpuidResult e7 = Find(host, 0x80000007, 0);
        _extended[7] = new CpuidResult(0, 0, 0, e7.Edx & Ext7Edx);
        CpuidResult e8 = Find(host, 0x80000008, 0);
        uint physicalBits = e8.Eax & 0xff;
        if (physicalBits == 0)
        {
            physicalBits = 36;
        }

        // Guest max physical address hidden; linear address width 48 (long mode, 4 levels).
        _extended[8] = new CpuidResult(physicalBits | (48u << 8), e8.Ebx & Ext8Ebx, amd ? e8.Ecx & 0x0003f0ff : 0, 0);
        if (amd)
        {
            // 0x80000009–0x18, 0x1b–0x20 (SVM, IBS, LWP, TopoExt, SEV, QoS) stay zero; TLB and perf hints pass through.
            _extended[0x19] = Find(host, 0x80000019, 0);
            _extended[0x1a] = Find(host, 0x8000001a, 0);
            CpuidResult e21 = Find(host, 0x80000021, 0);
            _extended[0x21] = new CpuidResult((e21.Eax & Ext21Eax) | (e21.Eax & Ext21EaxVerwClear), 0, e21.Ecx & Ext21Ecx, 0);
        }

        _hostTscReliable = (e7.Edx & Ext7EdxInvariantTsc) != 0;
        _hostRdtscp = (e1.Edx & Ext1EdxRdtscp) != 0;
    }

    /// <summary>
    /// The machine-wide policy. The machine layer installs it from KVM's supported CPUID
    /// (<see cref="InstallHost"/>); until then it is built from the host processor's own CPUID instruction.
    /// </summary>
    public static PvCpuidPolicy Host => Volatile.Read(ref s_host) ?? InstallFallback();

    public CpuVendor Vendor { get; }

    public uint BasicMaxLeaf { get; }

    public uint ExtendedMaxLeaf { get; }

    public uint TscKhz { get; }

    /// <summary>The display family (leaf 1 EAX, with the extended family added for family 0xf).</summary>
    public uint Family
    {
        get
        {
            uint eax = _basic[1].Eax;
            uint family = (eax >> 8) & 0xf;
            return family == 0xf ? family + ((eax >> 20) & 0xff) : family;
        }
    }

    public bool HasDe => (_basic[1].Edx & Leaf1EdxDe) != 0;

    public bool HasTsc => (_basic[1].Edx & Leaf1EdxTsc) != 0;

    public bool HasXsave => (_basic[1].Ecx & Leaf1EcxXsave) != 0;

    public bool HasXsavec => (_xstate[1].Eax & LeafDSub1EaxXsavec) != 0;

    /// <summary>
    /// The XCR0 bits a guest may set (Xen's cpu_policy_xcr0_max): x87 and SSE with XSAVE, YMM with AVX, the three AVX-512
    /// components with AVX512F; 0 without XSAVE. Leaf 0xd:0 EDX:EAX.
    /// </summary>
    public ulong Xcr0Max { get; }

    public bool HasFsgsbase => (_feature[0].Ebx & Leaf7EbxFsgsbase) != 0;

    public bool HasRtm => (_feature[0].Ebx & Leaf7EbxRtm) != 0;

    public bool HasPku => (_feature[0].Ecx & Leaf7EcxPku) != 0;

    public bool HasBusLockDetect => (_feature[0].Ecx & Leaf7EcxBld) != 0;

    public bool HasRdpid => (_feature[0].Ecx & Leaf7EcxRdpid) != 0;

    public bool HasRdtscp => (_extended[1].Edx & Ext1EdxRdtscp) != 0;

    public bool HasLongMode => (_extended[1].Edx & Ext1EdxLm) != 0;

    public bool IsAmdLike => Vendor is CpuVendor.Amd or CpuVendor.Hygon;

    public bool IsIntelLike => Vendor is CpuVendor.Intel or CpuVendor.Centaur or CpuVendor.Shanghai;

    /// <summary>Sets the machine-wide policy from KVM's supported CPUID (and the guest TSC frequency, if known).</summary>
    public static PvCpuidPolicy InstallHost(IReadOnlyList<HostCpuidLeaf> kvmSupported, uint tscKhz = 0)
    {
        var p = new PvCpuidPolicy(kvmSupported, tscKhz);
        Volatile.Write(ref s_host, p);
        return p;
    }

    /// <summary>The static part of leaf/subleaf: what every vCPU of every PV domain sees.</summary>
    public CpuidResult Query(uint leaf, uint subleaf)
    {
        if (leaf < BasicLeaves)
        {
            if (leaf > BasicMaxLeaf)
            {
                return default;
            }

            return leaf switch
            {
                4 => subleaf < CacheSubleaves ? _cache[subleaf] : default,
                7 => subleaf <= _featureMaxSubleaf ? _feature[subleaf] : default,
                0xd => subleaf < XstateSubleaves ? _xstate[subleaf] : default,
                _ => _basic[leaf],
            };
        }

        if (leaf is >= HypervisorBase and < HypervisorBase + 0x200)
        {
            return HypervisorLeaf(leaf - HypervisorBase, subleaf, machineAddressBits: 0);
        }

        if (leaf is >= 0x80000000 and < 0x80000000 + ExtendedLeavesAmd)
        {
            uint index = leaf & 0xffff;
            return index > (ExtendedMaxLeaf & 0xffff) ? default : _extended[index];
        }

        return default;
    }

    /// <summary>
    /// What <paramref name="vcpu"/> sees: the static part plus Xen's dynamic adjustments (OSXSAVE/OSPKE from its CR4,
    /// the machine address width). <paramref name="forced"/> says the query came through forced emulation (a #UD) rather
    /// than a faulted CPUID; Xen's PV-only OSXSAVE leak depends on it, which cannot arise here (see below).
    /// </summary>
    public CpuidResult Query(Vcpu vcpu, uint leaf, uint subleaf, bool forced)
    {
        if (leaf is >= HypervisorBase and < HypervisorBase + 0x200)
        {
            return HypervisorLeaf(leaf - HypervisorBase, subleaf, MachineAddressBits(vcpu.Domain.Pool.TotalFrames));
        }

        CpuidResult r = Query(leaf, subleaf);
        if (leaf == 1 && BasicMaxLeaf >= 1)
        {
            // OSXSAVE mirrors the guest's CR4. And, as Xen does (cpuid.c, "OSXSAVE handling for PV guests is
            // non-architectural"), it leaks into the guest kernel's forced-emulation view whenever XSAVE is offered and
            // the real CR4 has OSXSAVE — which it has wherever the machine has XSAVE (Machine/VcpuRunner), the only case
            // the policy offers XSAVE. Linux relies on it: its PV start of day keeps XSAVE only if this CPUID shows both.
            if ((vcpu.VirtualCr4 & Cr4Osxsave) != 0 || (forced && HasXsave && vcpu.InKernelMode))
            {
                r = r with { Ecx = r.Ecx | Leaf1EcxOsxsave };
            }
        }
        else if (leaf == 0xd && subleaf <= 1 && HasXsave)
        {
            // EBX is the XSAVE area's size for the XCR0 the vCPU runs with (Xen reads it from the hardware, with that XCR0
            // loaded): standard format in sub-leaf 0, compacted (with XSAVEC) in sub-leaf 1.
            ulong xcr0 = vcpu.Emulation.Xcr0;
            if (subleaf == 0)
            {
                r = r with { Ebx = XsaveSize(xcr0) };
            }
            else if (HasXsavec)
            {
                r = r with { Ebx = XsaveCompactedSize(xcr0) };
            }
        }
        else if (leaf == 7 && subleaf == 0 && BasicMaxLeaf >= 7 && (vcpu.VirtualCr4 & Cr4Pke) != 0)
        {
            r = r with { Ecx = r.Ecx | Leaf7EcxOspke };
        }

        return r;
    }

    /// <summary>The standard-format XSAVE area for <paramref name="xcr0"/>: legacy area and header, then each component at its offset.</summary>
    public uint XsaveSize(ulong xcr0)
    {
        uint size = XsaveLegacyAndHeader;
        for (int i = 2; i < XstateSubleaves; i++)
        {
            if ((xcr0 & Xcr0Max & (1UL << i)) != 0)
            {
                size = Math.Max(size, _xstate[i].Ebx + _xstate[i].Eax);
            }
        }

        return size;
    }

    /// <summary>The compacted-format (XSAVEC) area for <paramref name="xcr0"/>: the components packed in order, some 64-byte aligned.</summary>
    public uint XsaveCompactedSize(ulong xcr0)
    {
        uint size = XsaveLegacyAndHeader;
        for (int i = 2; i < XstateSubleaves; i++)
        {
            if ((xcr0 & Xcr0Max & (1UL << i)) != 0)
            {
                if ((_xstate[i].Ecx & XstateAlign64) != 0)
                {
                    size = (size + 63) & ~63u;
                }

                size += _xstate[i].Eax;
            }
        }

        return size;
    }

    /// <summary>
    /// Xen's feature dependencies within the XSAVE family (gen-cpuid.py), plus the machine's XCR0: AVX without YMM state,
    /// or AVX512F without all three AVX-512 components, would be unusable. Returns the XCR0 bits offered.
    /// </summary>
    private static ulong ApplyXsaveDependencies(ref FeatureWords w, ulong hostXcr0, bool describesXstate)
    {
        const ulong FpSse = Xcr0X87 | Xcr0Sse;
        if (!describesXstate || (w.Leaf1Ecx & Leaf1EcxXsave) == 0 || (hostXcr0 & FpSse) != FpSse)
        {
            w.Leaf1Ecx &= ~(Leaf1EcxXsave | Leaf1EcxAvx);
            w.LeafDSub1Eax = 0;
        }

        if ((w.Leaf1Ecx & Leaf1EcxAvx) == 0 || (hostXcr0 & Xcr0Ymm) == 0)
        {
            w.Leaf1Ecx &= ~(Leaf1EcxAvx | AvxDependants1Ecx);
            w.Ext1Ecx &= ~AvxDependantsExt1Ecx;
            w.Leaf7Sub1Eax &= ~AvxDependants7Sub1Eax;
            w.Leaf7Sub1Edx &= ~AvxDependants7Sub1Edx;
            w.Leaf7Ebx &= ~Leaf7EbxAvx2;
        }

        if ((w.Leaf7Ebx & Leaf7EbxAvx2) == 0)
        {
            w.Leaf7Ebx &= ~Leaf7EbxAvx512f;
            w.Leaf7Ecx &= ~Avx2Dependants7Sub0Ecx;
            w.Leaf7Sub1Eax &= ~Avx2Dependants7Sub1Eax;
            w.Leaf7Sub1Edx &= ~Avx2Dependants7Sub1Edx;
        }

        if ((w.Leaf7Ebx & Leaf7EbxAvx512f) == 0 || (hostXcr0 & Xcr0Avx512) != Xcr0Avx512)
        {
            w.Leaf7Ebx &= ~(Leaf7EbxAvx512f | Avx512fDependants7Sub0Ebx);
            w.Leaf7Ecx &= ~Avx512fDependants7Sub0Ecx;
        }

        if ((w.Leaf7Ebx & Leaf7EbxAvx512bw) == 0)
        {
            w.Leaf7Ecx &= ~Avx512bwDependants7Sub0Ecx;
            w.Leaf7Edx &= ~Avx512bwDependants7Sub0Edx;
            w.Leaf7Sub1Eax &= ~Avx512bwDependants7Sub1Eax;
        }

        if ((w.Leaf1Ecx & Leaf1EcxPclmulqdq) == 0)
        {
            w.Leaf7Ecx &= ~Leaf7EcxVpclmulqdq;
        }

        if ((w.Leaf1Ecx & Leaf1EcxAesni) == 0)
        {
            w.Leaf7Ecx &= ~Leaf7EcxVaes;
        }

        if ((w.Leaf1Ecx & Leaf1EcxXsave) == 0)
        {
            return 0;
        }

        return FpSse | ((w.Leaf1Ecx & Leaf1EcxAvx) != 0 ? Xcr0Ymm : 0) | ((w.Leaf7Ebx & Leaf7EbxAvx512f) != 0 ? Xcr0Avx512 : 0);
    }

    /// <summary>
    /// Leaf 0xd as Xen's recalculate_xstate builds it: sub-leaf 0 the XCR0 bits offered and the largest area (EBX is
    /// per vCPU), sub-leaf 1 XSAVEOPT/XSAVEC/XGETBV1 (no XSS state), each offered component's size, offset and
    /// alignment as the machine gives them; nothing without XSAVE.
    /// </summary>
    private void BuildXstate(IReadOnlyList<HostCpuidLeaf> host, uint subleaf1Eax)
    {
        if (Xcr0Max == 0)
        {
            return;
        }

        uint maxSize = XsaveLegacyAndHeader;
        for (uint i = 2; i < XstateSubleaves; i++)
        {
            if ((Xcr0Max & (1UL << (int)i)) != 0)
            {
                CpuidResult c = Find(host, 0xd, i);
                _xstate[i] = new CpuidResult(c.Eax, c.Ebx, c.Ecx & XstateAlign64, 0);
                maxSize = Math.Max(maxSize, c.Eax + c.Ebx);
            }
        }

        _xstate[0] = new CpuidResult((uint)Xcr0Max, 0, maxSize, (uint)(Xcr0Max >> 32));
        _xstate[1] = new CpuidResult(subleaf1Eax, 0, 0, 0);
    }

    private CpuidResult HypervisorLeaf(uint index, uint subleaf, uint machineAddressBits)
    {
        switch (index)
        {
            case 0:
                return new CpuidResult(HypervisorMaxLeaf, XenSignatureEbx, XenSignatureEcx, XenSignatureEdx);
            case 1:
                return new CpuidResult((uint)((XenVersionHypercall.Major << 16) | XenVersionHypercall.Minor), 0, 0, 0);
            case 2:
                // One hypercall page, written through MSR 0x40000000; PV guests may use MMU_PT_UPDATE_PRESERVE_AD.
                return new CpuidResult(1, HypercallPageMsr, PreserveAdFeature, 0);
            case 3:
                return TimeLeaf(subleaf);
            case 5 when subleaf == 0:
                return new CpuidResult(0, machineAddressBits, 0, 0);
            default:
                return default; // 4 is HVM-only; past 5 nothing (0x40000100–0x400001ff: no Viridian here)
        }
    }

    /// <summary>Leaf 0x40000003: TSC not emulated, tsc_mode default, the guest's TSC kHz and the ns conversion (no offset).</summary>
    private CpuidResult TimeLeaf(uint subleaf)
    {
        switch (subleaf)
        {
            case 0:
                uint flags = (_hostTscReliable ? 2u : 0) | (_hostRdtscp ? 4u : 0);
                return new CpuidResult(flags, 0, TscKhz, 0);
            case 1:
                if (TscKhz == 0)
                {
                    return default;
                }

                (uint mul, int shift) = TimeScale(TscKhz * 1000UL);
                return new CpuidResult(0, 0, mul, unchecked((uint)shift));
            case 2:
                return new CpuidResult(TscKhz, 0, 0, 0);
            default:
                return default;
        }
    }

    /// <summary>Xen's set_time_scale: ns = ((ticks &lt;&lt; shift) * mul) &gt;&gt; 32, shift negative means a right shift.</summary>
    internal static (uint Mul, int Shift) TimeScale(ulong ticksPerSecond)
    {
        const ulong NsPerSecond = 1_000_000_000;
        ulong tps64 = ticksPerSecond;
        int shift = 0;
        while (tps64 > NsPerSecond * 2)
        {
            tps64 >>= 1;
            shift--;
        }

        uint tps32 = (uint)tps64;
        while (tps32 <= (uint)NsPerSecond)
        {
            tps32 <<= 1;
            shift++;
        }

        return ((uint)((NsPerSecond << 32) / tps32), shift);
    }

    /// <summary>Leaf 0x40000005 EBX: bits needed for the highest machine address (Xen: flsl(upper MFN bound) + PAGE_SHIFT).</summary>
    internal static uint MachineAddressBits(ulong totalFrames) =>
        totalFrames <= 1 ? 12u : (uint)(64 - BitOperations.LeadingZeroCount(totalFrames - 1)) + 12;

    private static CpuidResult Find(IReadOnlyList<HostCpuidLeaf> entries, uint leaf, uint subleaf)
    {
        const uint SignificantIndex = 1; // KVM_CPUID_FLAG_SIGNIFCANT_INDEX
        foreach (HostCpuidLeaf e in entries)
        {
            if (e.Function == leaf && ((e.Flags & SignificantIndex) == 0 || e.Index == subleaf))
            {
                return new CpuidResult(e.Eax, e.Ebx, e.Ecx, e.Edx);
            }
        }

        return default;
    }

    private static CpuVendor VendorOf(CpuidResult leaf0) => (leaf0.Ebx, leaf0.Ecx, leaf0.Edx) switch
    {
        (0x756e6547, 0x6c65746e, 0x49656e69) => CpuVendor.Intel,    // GenuineIntel
        (0x68747541, 0x444d4163, 0x69746e65) => CpuVendor.Amd,      // AuthenticAMD
        (0x6f677948, 0x656e6975, 0x6e65476e) => CpuVendor.Hygon,    // HygonGenuine
        (0x746e6543, 0x736c7561, 0x48727561) => CpuVendor.Centaur,  // CentaurHauls
        (0x68532020, 0x20206961, 0x68676e61) => CpuVendor.Shanghai, // "  Shanghai  "
        _ => CpuVendor.Unknown,
    };

    /// <summary>Before the machine layer installs KVM's view: the host processor's own CPUID (a superset of it).</summary>
    private static PvCpuidPolicy InstallFallback()
    {
        var entries = new List<HostCpuidLeaf>();
        if (X86Base.IsSupported)
        {
            void Add(uint leaf, uint subleaf, bool indexed)
            {
                (int a, int b, int c, int d) = X86Base.CpuId(unchecked((int)leaf), unchecked((int)subleaf));
                entries.Add(new HostCpuidLeaf(leaf, subleaf, indexed ? 1u : 0, unchecked((uint)a), unchecked((uint)b), unchecked((uint)c), unchecked((uint)d)));
            }

            (int max, _, _, _) = X86Base.CpuId(0, 0);
            for (uint l = 0; l <= Math.Min((uint)max, BasicLeaves - 1); l++)
            {
                bool indexed = l is 4 or 7 or 0xb or 0xd;
                for (uint s = 0; s < (!indexed ? 1 : l == 0xd ? 8 : CacheSubleaves); s++)
                {
                    Add(l, s, indexed);
                }
            }

            (int extMax, _, _, _) = X86Base.CpuId(unchecked((int)0x80000000), 0);
            for (uint l = 0x80000000; l <= Math.Min(unchecked((uint)extMax), 0x80000000 + ExtendedLeavesAmd - 1); l++)
            {
                Add(l, 0, indexed: false);
            }
        }

        var p = new PvCpuidPolicy(entries);
        Interlocked.CompareExchange(ref s_host, p, null);
        return Volatile.Read(ref s_host)!;
    }

    /// <summary>The feature words the XSAVE dependencies touch, already masked by the PV default.</summary>
    private struct FeatureWords(uint leaf1Ecx, uint leaf7Ebx, uint leaf7Ecx, uint leaf7Edx, uint leaf7Sub1Eax, uint leaf7Sub1Edx, uint ext1Ecx, uint leafDSub1Eax)
    {
        public uint Leaf1Ecx = leaf1Ecx;
        public uint Leaf7Ebx = leaf7Ebx;
        public uint Leaf7Ecx = leaf7Ecx;
        public uint Leaf7Edx = leaf7Edx;
        public uint Leaf7Sub1Eax = leaf7Sub1Eax;
        public uint Leaf7Sub1Edx = leaf7Sub1Edx;
        public uint Ext1Ecx = ext1Ecx;
        public uint LeafDSub1Eax = leafDSub1Eax;
    }
}
