using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Emulation;
using static XenSharp.Hypervisor.Pv.Policy.MsrIndex;

namespace XenSharp.Hypervisor.Pv.Policy;

/// <summary>
/// RDMSR and WRMSR for a 64-bit PV guest kernel, as Xen's guest_rdmsr/guest_wrmsr (xen/arch/x86/msr.c) followed by
/// the PV read_msr/write_msr (pv/emul-priv-op.c) decide them for a domU. A false return means #GP(0).
/// <list type="bullet">
/// <item>Live state: FS_BASE, GS_BASE and SHADOW_GS_BASE (the guest's user GS base), TSC, TSC_AUX (when RDTSCP or
/// RDPID is offered) — through the real vCPU (<see cref="IVcpuMachine"/>).</item>
/// <item>Fixed answers: APIC_BASE 0xFEE00000|enable(|BSP on vCPU 0), PAT = <see cref="MsrIndex.XenPat"/> (read-only),
/// EFER = the vCPU's EFER without SVME/AIBRSE (a write must not change it), PLATFORM_INFO 0 (no CPUID faulting),
/// MISC_ENABLE as the machine has it, adjusted (writes dropped), PERF_CAPABILITIES 0, FEATURE_CONTROL locked (Intel), AMD P-state/HWCR/NB_CFG/DE_CFG,
/// the vMCE registers (2 banks), PMU counters read 0 and drop writes (vPMU off).</item>
/// <item>MSR 0x40000000: reads 0; a write installs the hypercall page in the frame it names.</item>
/// <item>Everything else: #GP. Except Xen's "faking RDMSR": a guest with no #GP handler registered yet reads 0 from an
/// MSR the machine has (outside 0x4000xxxx).</item>
/// </list>
/// </summary>
internal static class MsrPolicy
{
    private const ulong ApicBaseDefault = 0xfee00000;
    private const ulong ApicBaseEnable = 1UL << 11;
    private const ulong ApicBaseBsp = 1UL << 8;
    private const ulong FeatureControlLock = 1;
    private const ulong DeCfgLfenceSerialise = 1UL << 1;

    private const ulong EferSvme = 1UL << 12;
    private const ulong EferAutoIbrs = 1UL << 21;
    private const ulong EferKnown = 0x1 | 0x100 | 0x400 | 0x800 | EferSvme | 0x2000 | 0x4000 | 0x8000 | EferAutoIbrs; // SCE LME LMA NXE SVME LMSLE FFXSR TCE AIBRSE
    private const ulong VcpuEfer = 0xd01; // what the machine layer loads (NXE LMA LME SCE), if the vCPU cannot be asked

    private const ulong MiscEnablePerfAvail = 1UL << 7;
    private const ulong MiscEnableBtsUnavail = 1UL << 11;
    private const ulong MiscEnablePebsUnavail = 1UL << 12;
    private const ulong MiscEnableMonitor = 1UL << 18;
    private const ulong MiscEnableXtprDisable = 1UL << 23;

    private const ulong McgCapIntel = (1UL << 24) | (1UL << 11) | (1UL << 10) | PvEmulationState.GuestMcBanks; // SER_P TES_P CMCI_P, 2 banks
    private const ulong McgCapAmd = PvEmulationState.GuestMcBanks;

    private static readonly Lazy<byte[]> HypercallPageImage = new(Pv.HypercallPage.Create);

    /// <summary>RDMSR <paramref name="index"/> in guest kernel mode; false means #GP(0).</summary>
    public static bool TryRead(Vcpu v, PvCpuidPolicy p, uint index, out ulong value)
    {
        if (Read(v, p, index, out value))
        {
            return true;
        }

        // Xen: a guest that has not registered a #GP handler yet gets 0 instead of a fatal #GP, for MSRs the machine
        // really has (never the hypervisor range).
        if (v.TrapTable[13].Address == 0 && (index >> 16) != 0x4000 && MachineMsr.TryRead(v, index, out _))
        {
            v.Domain.Log.Limited($"d{v.Domain.Id}-fake-rdmsr", $"(d{v.Domain.Id}v{v.Id}) faking RDMSR 0x{index:x8}");
            value = 0;
            return true;
        }

        value = 0;
        return false;
    }

    /// <summary>WRMSR <paramref name="index"/> in guest kernel mode; false means #GP(0).</summary>
    public static bool TryWrite(Vcpu v, PvCpuidPolicy p, uint index, ulong value)
    {
        switch (index)
        {
            case UcodeRevision:
                // Intel documents writing 0 before reading the microcode revision.
                return p.Vendor == CpuVendor.Intel && value == 0;
            case MiscFeaturesEnables:
                // The only defined bit is CPUID faulting, which PLATFORM_INFO does not offer.
                if (value != 0)
                {
                    return false;
                }

                v.Emulation.MiscFeaturesEnables = value;
                return true;
            case P5McAddr or P5McType or McgExtCtl:
            case >= McgCap and <= McgCtl:
            case >= Mc0Ctl2 and < Mc0Ctl2 + 32:
            case >= Mc0Ctl and < Mc0Ctl + (4 * 32):
                return WriteMachineCheck(v, p, index, value);
            case PerfCtl:
                return p.Vendor is CpuVendor.Intel or CpuVendor.Centaur; // write-discard
            case >= XenHypercallPage and < XenHypercallPage + 0x300:
                return index == XenHypercallPage && WriteHypercallPage(v, value);
            case TscAux:
                return (p.HasRdtscp || p.HasRdpid) && value == (uint)value && MachineMsr.TryWrite(v, TscAux, value);
            case AmdDeCfg:
                return p.IsAmdLike; // write-discard
            case FsBase:
                return p.HasLongMode && GuestPageWalker.IsCanonical(value) && SegmentBases.TryWriteFs(v, value);
            case GsBase:
                return p.HasLongMode && GuestPageWalker.IsCanonical(value) && SegmentBases.TryWriteActiveGs(v, value);
            case ShadowGsBase:
                return p.HasLongMode && GuestPageWalker.IsCanonical(value) && SegmentBases.TryWriteUserGs(v, value);
            case Efer:
                // Refuse changes, but Linux writes back the value it read.
                return value == GuestEfer(v);
            case K8Hwcr or K7FidVidCtl or K7FidVidStatus:
            case >= K8PstateLimit and <= K8Pstate7:
                return p.IsAmdLike; // not a cpufreq controller: discarded
            case AmdNbCfg:
                return true; // discarded
            case Fam10hMmioConfBase:
                return p.Vendor == CpuVendor.Amd && p.Family is >= 0x10 and < 0x17;
            case MiscEnable:
                // Present on the machine: writes are dropped (Xen warns when they differ from what it reports).
                return MachineMsr.TryRead(v, MiscEnable, out _);
            case Mperf or Aperf:
                return p.Vendor is CpuVendor.Intel or CpuVendor.Amd or CpuVendor.Hygon;
            case ThermControl or EnergyPerfBias:
                return p.Vendor == CpuVendor.Intel;
            default:
                return IsPmuCounter(p, index); // vPMU off: writes are dropped
        }
    }

    private static bool Read(Vcpu v, PvCpuidPolicy p, uint index, out ulong value)
    {
        value = 0;
        switch (index)
        {
            case FeatureControl:
                // Read before any #GP handler by some guests; locked, no VMX.
                value = FeatureControlLock;
                return p.IsIntelLike;
            case PlatformId:
                return p.Vendor == CpuVendor.Intel && MachineMsr.TryRead(v, PlatformId, out value);
            case UcodeRevision:
                return p.Vendor is CpuVendor.Intel or CpuVendor.Amd && MachineMsr.TryRead(v, UcodeRevision, out value);
            case PlatformInfo:
                return true; // no CPUID faulting, nothing else offered
            case MiscFeaturesEnables:
                value = v.Emulation.MiscFeaturesEnables;
                return true;
            case P5McAddr or P5McType or McgExtCtl:
            case >= McgCap and <= McgCtl:
            case >= Mc0Ctl2 and < Mc0Ctl2 + 32:
            case >= Mc0Ctl and < Mc0Ctl + (4 * 32):
                return ReadMachineCheck(v, p, index, out value);
            case PerfStatus or PerfCtl:
                return p.Vendor is CpuVendor.Intel or CpuVendor.Centaur; // read as zero
            case ThermStatus:
                return p.Vendor == CpuVendor.Intel;
            case >= XenHypercallPage and < XenHypercallPage + 0x300:
                return index == XenHypercallPage; // the hypercall-page MSR reads as zero
            case TscAux:
                return (p.HasRdtscp || p.HasRdpid) && MachineMsr.TryRead(v, TscAux, out value);
            case K8Hwcr:
                return p.IsAmdLike;
            case AmdDeCfg:
                value = DeCfgLfenceSerialise;
                return p.IsAmdLike;
            case ApicBase:
                value = ApicBaseDefault | ApicBaseEnable | (v.Id == 0 ? ApicBaseBsp : 0);
                return true;
            case FsBase:
                return p.HasLongMode && SegmentBases.TryReadFs(v, out value);
            case GsBase:
                return p.HasLongMode && SegmentBases.TryReadActiveGs(v, out value);
            case ShadowGsBase:
                return p.HasLongMode && SegmentBases.TryReadUserGs(v, out value);
            case Tsc:
                return MachineMsr.TryRead(v, Tsc, out value);
            case Efer:
                value = GuestEfer(v);
                return true;
            case Pat:
                value = XenPat;
                return true;
            case K7FidVidCtl or K7FidVidStatus:
            case >= K8PstateLimit and <= K8Pstate7:
                return p.Vendor == CpuVendor.Amd;
            case AmdNbCfg:
                return true;
            case MiscEnable:
                if (!MachineMsr.TryRead(v, MiscEnable, out ulong host))
                {
                    return false;
                }

                value = GuestMiscEnable(host);
                return true;
            case PerfCapabilities:
                return true; // no extra capabilities
            default:
                return IsPmuCounter(p, index); // vPMU off: counters read as zero
        }
    }

    /// <summary>EFER as the guest may see it: the vCPU's, with unknown bits, SVME and AIBRSE hidden.</summary>
    internal static ulong GuestEfer(Vcpu v)
    {
        ulong efer = MachineMsr.TryRead(v, Efer, out ulong live) ? live : VcpuEfer;
        return efer & EferKnown & ~(EferSvme | EferAutoIbrs);
    }

    private static ulong GuestMiscEnable(ulong host) =>
        (host & ~(MiscEnablePerfAvail | MiscEnableMonitor)) | MiscEnableBtsUnavail | MiscEnablePebsUnavail | MiscEnableXtprDisable;

    private static bool IsPmuCounter(PvCpuidPolicy p, uint index) => p.Vendor switch
    {
        CpuVendor.Intel => index is (>= P6PerfCtr0 and < P6PerfCtr0 + 8) or (>= P6EvntSel0 and < P6EvntSel0 + 8)
            or (>= FixedCtr0 and <= FixedCtr0 + 2) or (>= FixedCtrCtrl and <= GlobalOvfCtrl),
        CpuVendor.Amd or CpuVendor.Hygon => index is (>= K7EvntSel0 and <= K7PerfCtr3) or (>= Fam15hEvntSel0 and <= Fam15hPerfCtr5),
        _ => false,
    };

    /// <summary>The MCE registers a guest's vMCE offers (Xen's vmce_rdmsr): 2 banks, MCi_CTL all ones, nothing pending.</summary>
    private static bool ReadMachineCheck(Vcpu v, PvCpuidPolicy p, uint index, out ulong value)
    {
        value = 0;
        switch (index)
        {
            case McgCap:
                value = p.Vendor == CpuVendor.Intel ? McgCapIntel : McgCapAmd;
                return true;
            case McgStatus:
                value = v.Emulation.McgStatus;
                return true;
            case McgExtCtl:
                return false; // no LMCE
            case >= Mc0Ctl and < Mc0Ctl + (4 * PvEmulationState.GuestMcBanks):
                value = (index & 3) == 0 ? ulong.MaxValue : 0; // MCi_CTL sticks at all ones; STATUS/ADDR/MISC empty
                return true;
            case >= Mc0Ctl2 and < Mc0Ctl2 + PvEmulationState.GuestMcBanks when p.Vendor == CpuVendor.Intel:
                value = v.Emulation.McCtl2[index - Mc0Ctl2];
                return true;
            default:
                return true; // MCG_CTL (no MCG_CTL_P), banks past 2, P5: zero
        }
    }

    private static bool WriteMachineCheck(Vcpu v, PvCpuidPolicy p, uint index, ulong value)
    {
        switch (index)
        {
            case McgStatus:
                v.Emulation.McgStatus = value;
                return true;
            case McgExtCtl:
                return false;
            case >= Mc0Ctl and < Mc0Ctl + (4 * PvEmulationState.GuestMcBanks):
                // MCi_CTL ignores writes; STATUS/ADDR/MISC may only be cleared.
                return (index & 3) == 0 || value == 0;
            case >= Mc0Ctl2 and < Mc0Ctl2 + PvEmulationState.GuestMcBanks when p.Vendor == CpuVendor.Intel:
                v.Emulation.McCtl2[index - Mc0Ctl2] = value;
                return true;
            default:
                return true; // MCG_CTL, MCG_CAP (read-only: ignored), other banks
        }
    }

    /// <summary>
    /// MSR 0x40000000 write: bits 63:12 name a frame of the domain (for a PV guest Xen reads them as an MFN: PV is not
    /// translated), bits 11:0 must be 0; the frame must be usable as a writable page. It receives the hypercall page.
    /// </summary>
    private static bool WriteHypercallPage(Vcpu v, ulong value)
    {
        if ((value & 0xfff) != 0)
        {
            return false;
        }

        Domain d = v.Domain;
        var mfn = new Mfn(value >> Mfn.PageShift);
        lock (d.Mmu.Lock)
        {
            if (d.Mmu.Validator.GetPageAndType(mfn, PageType.Writable) != 0)
            {
                return false;
            }

            HypercallPageImage.Value.CopyTo(d.Pool.Frame(mfn));
            d.Mmu.Validator.PutPageAndType(mfn);
        }

        return true;
    }
}
