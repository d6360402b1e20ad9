namespace XenSharp.Hypervisor.Pv.Policy;

/// <summary>
/// Which host CPUID feature bits a 64-bit PV guest may see, word by word (Xen's featureset words).
/// <para>
/// Start: Xen's PV default set, the features marked upper-case 'A' in xen/include/public/arch-x86/cpufeatureset.h
/// (what gen-cpuid.py calls pv_def). Then XenSharp hides more, because the real vCPU could not honour them:
/// </para>
/// <list type="bullet">
/// <item>FSGSBASE: the vCPU's CR4.FSGSBASE is clear and the guest cannot toggle the real bit.</item>
/// <item>IBRSB/IBRS/IBPB/STIBP/SSBD/PSFD and ARCH_CAPS (with their dependants): MSR_SPEC_CTRL, MSR_PRED_CMD and
/// MSR_ARCH_CAPABILITIES are not virtualised for PV guests here.</item>
/// <item>DBEXT and ADDR_MSK_EXT: the AMD breakpoint address-mask MSRs are not virtualised.</item>
/// <item>SRSO_US_NO: Xen drops it for PV unless BP_SPEC_REDUCE is active, which it never is here.</item>
/// </list>
/// The XSAVE family is offered as Xen offers it (XSAVE, XSAVEOPT/XSAVEC/XGETBV1, AVX, FMA, F16C, AVX2, AVX-512, XOP,
/// FMA4 and the VEX/EVEX extensions; not XSAVES, MPX, PKU, AMX or LWP, which Xen's PV default does not offer): the vCPU
/// runs with CR4.OSXSAVE where the machine has XSAVE (Machine/VcpuRunner) and the guest kernel's XSETBV is emulated
/// (Pv/Emulation/ExtendedControlRegisters). Xen's feature dependencies (gen-cpuid.py; the *Dependants* masks below)
/// clear what lost its base, and <see cref="PvCpuidPolicy"/> also drops AVX and AVX-512 when the machine's XCR0 lacks
/// their state components.
/// <para>
/// Bits with special rules (HTT, CMP_LEGACY, ERMS, FDP_EXCP_ONLY, NO_FPU_SEL, MD_CLEAR, VERW_CLEAR: as the host;
/// HYPERVISOR: always; OSXSAVE/OSPKE: from the guest's CR4) are not in these masks; <see cref="PvCpuidPolicy"/> applies them.
/// </para>
/// </summary>
internal static class PvCpuidFeatures
{
    // Leaf 1 EDX: FPU DE TSC MSR PAE MCE CX8 APIC SEP MCA CMOV PAT CLFLUSH ACPI MMX FXSR SSE SSE2 SS
    public const uint Leaf1Edx = 0x0fc9cbf5;

    // Leaf 1 ECX: SSE3 PCLMULQDQ SSSE3 FMA CX16 SSE4_1 SSE4_2 MOVBE POPCNT AESNI XSAVE AVX F16C RDRAND
    public const uint Leaf1Ecx = 0x76d83203;

    // Leaf 0x80000001 EDX: SYSCALL NX MMXEXT FFXSR RDTSCP LM 3DNOWEXT 3DNOW (the leaf-1 common bits are added on AMD)
    public const uint Ext1Edx = 0xea500800;

    // Leaf 0x80000001 ECX: LAHF_LM ABM SSE4A MISALIGNSSE 3DNOWPREFETCH XOP FMA4 TBM
    //   (Xen-default but hidden here: DBEXT ADDR_MSK_EXT)
    public const uint Ext1Ecx = 0x002109e1;

    // Leaf 0xd:1 EAX: XSAVEOPT XSAVEC XGETBV1 (XSAVES is not in Xen's PV default)
    public const uint LeafDSub1Eax = 0x00000007;

    // Leaf 7:0 EBX: BMI1 AVX2 BMI2 RTM AVX512F AVX512DQ RDSEED ADX AVX512_IFMA CLFLUSHOPT CLWB AVX512CD SHA AVX512BW
    //   AVX512VL (Xen-default but hidden here: FSGSBASE)
    public const uint Leaf7Sub0Ebx = 0xf1af0928;

    // Leaf 7:0 ECX: PREFETCHWT1 AVX512_VBMI AVX512_VBMI2 GFNI VAES VPCLMULQDQ AVX512_VNNI AVX512_BITALG AVX512_VPOPCNTDQ
    //   RDPID CLDEMOTE
    public const uint Leaf7Sub0Ecx = 0x02405f43;

    // Leaf 7:0 EDX: FSRM SERIALIZE AVX512_FP16
    //   (Xen-default but hidden here: IBRSB STIBP ARCH_CAPS SSBD)
    public const uint Leaf7Sub0Edx = 0x00804010;

    // Leaf 7:1 EAX: SHA512 SM3 SM4 AVX_VNNI AVX512_BF16 FZRM FSRS FSRCS AVX_IFMA
    public const uint Leaf7Sub1Eax = 0x00801c37;

    // Leaf 7:1 EBX and ECX: nothing for PV.
    public const uint Leaf7Sub1Ebx = 0x00000000;
    public const uint Leaf7Sub1Ecx = 0x00000000;

    // Leaf 7:1 EDX: AVX_VNNI_INT8 AVX_NE_CONVERT AVX_VNNI_INT16 PREFETCHI
    public const uint Leaf7Sub1Edx = 0x00004430;

    // Leaf 7:2 EDX: MCDT_NO (Xen-default but hidden here: INTEL_PSFD)
    public const uint Leaf7Sub2Edx = 0x00000020;

    // Leaf 0x80000007 EDX: nothing (invariant TSC is opt-in, lower-case 'a', in Xen).
    public const uint Ext7Edx = 0x00000000;

    // Leaf 0x80000008 EBX: CLZERO RSTR_FP_ERR_PTRS SSB_NO BTC_NO (Xen-default but hidden here: IBPB IBPB_RET)
    public const uint Ext8Ebx = 0x24000005;

    // Leaf 0x80000021 EAX: NO_NEST_BP LFENCE_DISPATCH NSCB AMD_FSRS AMD_FSRC FSRSC AMD_PREFETCHI SRSO_NO
    //   (Xen-default but hidden here: EPSF SBPB IBPB_BRTYPE SRSO_US_NO)
    public const uint Ext21Eax = 0x20180c45;

    // Leaf 0x80000021 ECX: TSA_SQ_NO TSA_L1_NO
    public const uint Ext21Ecx = 0x00000006;

    // Xen's feature dependencies (gen-cpuid.py) within the XSAVE family, one level each: the bits that go when their
    // base is not offered. XSAVE: XSAVEOPT XSAVEC XGETBV1 (leaf 0xd:1 goes whole) and AVX.

    // AVX: FMA F16C AVX2 (leaf 7:0 EBX) XOP FMA4 (0x80000001 ECX) AVX_NE_CONVERT (7:1 EDX) SM3 (7:1 EAX).
    public const uint AvxDependants1Ecx = (1u << 12) | (1u << 29);
    public const uint AvxDependantsExt1Ecx = (1u << 11) | (1u << 16);
    public const uint AvxDependants7Sub1Edx = 1u << 5;
    public const uint AvxDependants7Sub1Eax = 1u << 1;

    // AVX2: AVX512F (7:0 EBX) VAES VPCLMULQDQ (7:0 ECX) AVX_VNNI AVX_IFMA SHA512 SM4 (7:1 EAX) AVX_VNNI_INT8
    // AVX_VNNI_INT16 (7:1 EDX).
    public const uint Avx2Dependants7Sub0Ecx = (1u << 9) | (1u << 10);
    public const uint Avx2Dependants7Sub1Eax = (1u << 4) | (1u << 23) | (1u << 0) | (1u << 2);
    public const uint Avx2Dependants7Sub1Edx = (1u << 4) | (1u << 10);

    // AVX512F: AVX512DQ AVX512_IFMA AVX512CD AVX512BW AVX512VL (7:0 EBX) AVX512_VNNI AVX512_VPOPCNTDQ (7:0 ECX).
    public const uint Avx512fDependants7Sub0Ebx = (1u << 17) | (1u << 21) | (1u << 28) | (1u << 30) | (1u << 31);
    public const uint Avx512fDependants7Sub0Ecx = (1u << 11) | (1u << 14);

    // AVX512BW: AVX512_VBMI AVX512_VBMI2 AVX512_BITALG (7:0 ECX) AVX512_FP16 (7:0 EDX) AVX512_BF16 (7:1 EAX).
    public const uint Avx512bwDependants7Sub0Ecx = (1u << 1) | (1u << 6) | (1u << 12);
    public const uint Avx512bwDependants7Sub0Edx = 1u << 23;
    public const uint Avx512bwDependants7Sub1Eax = 1u << 5;

    // XCR0 state components (Xen's X86_XCR0_*): the ones a PV guest may enable.
    public const ulong Xcr0X87 = 1UL << 0;
    public const ulong Xcr0Sse = 1UL << 1;
    public const ulong Xcr0Ymm = 1UL << 2;
    public const ulong Xcr0Opmask = 1UL << 5;
    public const ulong Xcr0Zmm = 1UL << 6;
    public const ulong Xcr0HiZmm = 1UL << 7;
    public const ulong Xcr0Avx512 = Xcr0Opmask | Xcr0Zmm | Xcr0HiZmm;
    public const ulong Xcr0Bndregs = 1UL << 3;
    public const ulong Xcr0Bndcsr = 1UL << 4;

    // Individual bits the policy and the emulators consult.
    public const uint Leaf1EdxDe = 1u << 2;
    public const uint Leaf1EdxTsc = 1u << 4;
    public const uint Leaf1EdxSep = 1u << 11;
    public const uint Leaf1EdxHtt = 1u << 28;
    public const uint Leaf1EcxPclmulqdq = 1u << 1;
    public const uint Leaf1EcxAesni = 1u << 25;
    public const uint Leaf1EcxXsave = 1u << 26;
    public const uint Leaf1EcxAvx = 1u << 28;
    public const uint Leaf1EcxOsxsave = 1u << 27;
    public const uint Leaf1EcxHypervisor = 1u << 31;
    public const uint Leaf7EbxFsgsbase = 1u << 0;
    public const uint Leaf7EbxAvx2 = 1u << 5;
    public const uint Leaf7EbxAvx512f = 1u << 16;
    public const uint Leaf7EbxAvx512bw = 1u << 30;
    public const uint Leaf7EcxVaes = 1u << 9;
    public const uint Leaf7EcxVpclmulqdq = 1u << 10;
    public const uint LeafDSub1EaxXsavec = 1u << 1;
    public const uint Leaf7EbxFdpExcpOnly = 1u << 6;
    public const uint Leaf7EbxErms = 1u << 9;
    public const uint Leaf7EbxRtm = 1u << 11;
    public const uint Leaf7EbxNoFpuSel = 1u << 13;
    public const uint Leaf7EcxPku = 1u << 3;
    public const uint Leaf7EcxOspke = 1u << 4;
    public const uint Leaf7EcxRdpid = 1u << 22;
    public const uint Leaf7EcxBld = 1u << 24;
    public const uint Leaf7EdxMdClear = 1u << 10;
    public const uint Ext1EcxCmpLegacy = 1u << 1;
    public const uint Ext1EdxRdtscp = 1u << 27;
    public const uint Ext1EdxLm = 1u << 29;
    public const uint Ext7EdxInvariantTsc = 1u << 8;
    public const uint Ext21EaxVerwClear = 1u << 5;

    /// <summary>Leaf-1 EDX features AMD repeats in 0x80000001 EDX (FPU VME DE PSE TSC MSR PAE MCE CX8 APIC MTRR PGE MCA CMOV PAT PSE36 MMX FXSR).</summary>
    public const uint Common1Edx = 0x0183f3ff;
}
