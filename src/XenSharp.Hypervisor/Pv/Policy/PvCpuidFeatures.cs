namespace XenSharp.Hypervisor.Pv.Policy;

/// <summary>
/// Which host CPUID feature bits a 64-bit PV guest may see, word by word (Xen's featureset words).
/// <para>
/// Start: Xen's PV default set, the features marked upper-case 'A' in xen/include/public/arch-x86/cpufeatureset.h
/// (what gen-cpuid.py calls pv_def). Then XenSharp hides more, because the real vCPU could not honour them:
/// </para>
/// <list type="bullet">
/// <item>XSAVE and everything built on it (AVX, AVX2, AVX-512, FMA, F16C, XSAVEOPT, ...): the vCPU runs with CR4.OSXSAVE
/// clear (Machine/VcpuRunner), so XSAVE/XGETBV/AVX would #UD, and XSETBV cannot be emulated (no way to set the KVM
/// vCPU's XCR0 from the core yet).</item>
/// <item>FSGSBASE: the vCPU's CR4.FSGSBASE is clear and the guest cannot toggle the real bit.</item>
/// <item>IBRSB/IBRS/IBPB/STIBP/SSBD/PSFD and ARCH_CAPS (with their dependants): MSR_SPEC_CTRL, MSR_PRED_CMD and
/// MSR_ARCH_CAPABILITIES are not virtualised for PV guests here.</item>
/// <item>DBEXT and ADDR_MSK_EXT: the AMD breakpoint address-mask MSRs are not virtualised.</item>
/// <item>SRSO_US_NO: Xen drops it for PV unless BP_SPEC_REDUCE is active, which it never is here.</item>
/// </list>
/// Bits with special rules (HTT, CMP_LEGACY, ERMS, FDP_EXCP_ONLY, NO_FPU_SEL, MD_CLEAR, VERW_CLEAR: as the host;
/// HYPERVISOR: always; OSXSAVE/OSPKE: from the guest's CR4) are not in these masks; <see cref="PvCpuidPolicy"/> applies them.
/// </summary>
internal static class PvCpuidFeatures
{
    // Leaf 1 EDX: FPU DE TSC MSR PAE MCE CX8 APIC SEP MCA CMOV PAT CLFLUSH ACPI MMX FXSR SSE SSE2 SS
    public const uint Leaf1Edx = 0x0fc9cbf5;

    // Leaf 1 ECX: SSE3 PCLMULQDQ SSSE3 CX16 SSE4_1 SSE4_2 MOVBE POPCNT AESNI RDRAND
    //   (Xen-default but hidden here: FMA XSAVE AVX F16C)
    public const uint Leaf1Ecx = 0x42d82203;

    // Leaf 0x80000001 EDX: SYSCALL NX MMXEXT FFXSR RDTSCP LM 3DNOWEXT 3DNOW (the leaf-1 common bits are added on AMD)
    public const uint Ext1Edx = 0xea500800;

    // Leaf 0x80000001 ECX: LAHF_LM ABM SSE4A MISALIGNSSE 3DNOWPREFETCH TBM
    //   (Xen-default but hidden here: XOP FMA4 DBEXT ADDR_MSK_EXT)
    public const uint Ext1Ecx = 0x002001e1;

    // Leaf 0xd:1 EAX: nothing (Xen-default but hidden here: XSAVEOPT XSAVEC XGETBV1)
    public const uint LeafDSub1Eax = 0x00000000;

    // Leaf 7:0 EBX: BMI1 BMI2 RTM RDSEED ADX CLFLUSHOPT CLWB SHA
    //   (Xen-default but hidden here: FSGSBASE AVX2 AVX512F AVX512DQ AVX512_IFMA AVX512CD AVX512BW AVX512VL)
    public const uint Leaf7Sub0Ebx = 0x218c0908;

    // Leaf 7:0 ECX: PREFETCHWT1 GFNI RDPID CLDEMOTE
    //   (Xen-default but hidden here: AVX512_VBMI AVX512_VBMI2 VAES VPCLMULQDQ AVX512_VNNI AVX512_BITALG AVX512_VPOPCNTDQ)
    public const uint Leaf7Sub0Ecx = 0x02400101;

    // Leaf 7:0 EDX: FSRM SERIALIZE
    //   (Xen-default but hidden here: AVX512_FP16 IBRSB STIBP ARCH_CAPS SSBD)
    public const uint Leaf7Sub0Edx = 0x00004010;

    // Leaf 7:1 EAX: FZRM FSRS FSRCS (Xen-default but hidden here: SHA512 SM3 SM4 AVX_VNNI AVX512_BF16 AVX_IFMA)
    public const uint Leaf7Sub1Eax = 0x00001c00;

    // Leaf 7:1 EBX and ECX: nothing for PV.
    public const uint Leaf7Sub1Ebx = 0x00000000;
    public const uint Leaf7Sub1Ecx = 0x00000000;

    // Leaf 7:1 EDX: PREFETCHI (Xen-default but hidden here: AVX_VNNI_INT8 AVX_NE_CONVERT AVX_VNNI_INT16)
    public const uint Leaf7Sub1Edx = 0x00004000;

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

    // Individual bits the policy and the emulators consult.
    public const uint Leaf1EdxDe = 1u << 2;
    public const uint Leaf1EdxTsc = 1u << 4;
    public const uint Leaf1EdxSep = 1u << 11;
    public const uint Leaf1EdxHtt = 1u << 28;
    public const uint Leaf1EcxXsave = 1u << 26;
    public const uint Leaf1EcxOsxsave = 1u << 27;
    public const uint Leaf1EcxHypervisor = 1u << 31;
    public const uint Leaf7EbxFsgsbase = 1u << 0;
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
