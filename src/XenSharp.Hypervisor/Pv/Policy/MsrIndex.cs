namespace XenSharp.Hypervisor.Pv.Policy;

/// <summary>MSR numbers the PV MSR policy knows (names as in Xen's asm/msr-index.h).</summary>
internal static class MsrIndex
{
    public const uint P5McAddr = 0x00000000;
    public const uint P5McType = 0x00000001;
    public const uint Tsc = 0x00000010;
    public const uint PlatformId = 0x00000017;
    public const uint ApicBase = 0x0000001b;
    public const uint IntelCoreThreadCount = 0x00000035;
    public const uint FeatureControl = 0x0000003a;
    public const uint UcodeRevision = 0x0000008b;  // MSR_IA32_UCODE_REV == MSR_AMD_PATCHLEVEL
    public const uint P6PerfCtr0 = 0x000000c1;     // .. +7
    public const uint PlatformInfo = 0x000000ce;
    public const uint Mperf = 0x000000e7;
    public const uint Aperf = 0x000000e8;
    public const uint MiscFeaturesEnables = 0x00000140;
    public const uint McgCap = 0x00000179;
    public const uint McgStatus = 0x0000017a;
    public const uint McgCtl = 0x0000017b;
    public const uint P6EvntSel0 = 0x00000186;     // .. +7
    public const uint PerfStatus = 0x00000198;
    public const uint PerfCtl = 0x00000199;
    public const uint ThermControl = 0x0000019a;
    public const uint ThermStatus = 0x0000019c;
    public const uint MiscEnable = 0x000001a0;
    public const uint EnergyPerfBias = 0x000001b0;
    public const uint Pat = 0x00000277;
    public const uint Mc0Ctl2 = 0x00000280;        // MCi_CTL2 at 0x280 + i
    public const uint FixedCtr0 = 0x00000309;      // .. FIXED_CTR2 0x30b
    public const uint PerfCapabilities = 0x00000345;
    public const uint FixedCtrCtrl = 0x0000038d;   // .. GLOBAL_OVF_CTRL 0x390
    public const uint GlobalOvfCtrl = 0x00000390;
    public const uint Mc0Ctl = 0x00000400;         // MCi_CTL/STATUS/ADDR/MISC at 0x400 + 4i + 0..3
    public const uint McgExtCtl = 0x000004d0;

    public const uint XenHypercallPage = 0x40000000;

    public const uint Efer = 0xc0000080;
    public const uint FsBase = 0xc0000100;
    public const uint GsBase = 0xc0000101;
    public const uint ShadowGsBase = 0xc0000102;   // MSR_KERNEL_GS_BASE
    public const uint TscAux = 0xc0000103;
    public const uint F10Mc4Misc1 = 0xc0000408;    // .. MISC3 0xc000040a
    public const uint K7EvntSel0 = 0xc0010000;     // K7 EVNTSEL0–3, PERFCTR0–3: 0xc0010000–0xc0010007
    public const uint K7PerfCtr3 = 0xc0010007;
    public const uint K8Hwcr = 0xc0010015;
    public const uint AmdNbCfg = 0xc001001f;
    public const uint K7FidVidCtl = 0xc0010041;
    public const uint K7FidVidStatus = 0xc0010042;
    public const uint Fam10hMmioConfBase = 0xc0010058;
    public const uint K8PstateLimit = 0xc0010061;  // LIMIT, CTRL, STATUS, PSTATE0–7: 0xc0010061–0xc001006b
    public const uint K8Pstate7 = 0xc001006b;
    public const uint Fam15hEvntSel0 = 0xc0010200; // .. PERFCTR5 0xc001020b
    public const uint Fam15hPerfCtr5 = 0xc001020b;
    public const uint AmdDeCfg = 0xc0011029;

    /// <summary>Xen's PAT for PV guests (XEN_MSR_PAT): WB, WT, UC-, UC, WC, WP, UC, UC.</summary>
    public const ulong XenPat = 0x0000050100070406;
}
