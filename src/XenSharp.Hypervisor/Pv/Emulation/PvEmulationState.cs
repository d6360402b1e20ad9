using System.Runtime.CompilerServices;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Pv.Emulation;

/// <summary>
/// Per-vCPU state the privileged-op emulation, the MSR policy and the related hypercalls keep (Xen's
/// arch.pv.iobmp/iobmp_nr, arch.pv.dr7_emul, arch.msrs, arch.vmce, arch.xcr0). Only the vCPU's own thread touches it.
/// </summary>
internal sealed class PvEmulationState
{
    /// <summary>Machine-check banks a guest sees (Xen's GUEST_MC_BANK_NUM).</summary>
    public const int GuestMcBanks = 2;

    /// <summary>Guest virtual address of the I/O permission bitmap (PHYSDEVOP_set_iobitmap); a set bit denies the port.</summary>
    public ulong IoBitmap { get; set; }

    /// <summary>How many ports the bitmap covers; ports at or past this use only the IOPL check.</summary>
    public uint IoBitmapPorts { get; set; }

    /// <summary>DR7's L/G enable bits of the I/O breakpoints, which Xen emulates instead of loading (dr7_emul).</summary>
    public uint Dr7IoEnable { get; set; }

    /// <summary>MSR_MISC_FEATURES_ENABLES as the guest wrote it (only 0 is accepted: no CPUID faulting).</summary>
    public ulong MiscFeaturesEnables { get; set; }

    /// <summary>
    /// XCR0 as the vCPU runs with it: x87|SSE until the guest kernel's first accepted XSETBV (Xen's
    /// <c>arch.xcr0 ?: XSTATE_FP_SSE</c>); leaf 0xd's EBX sizes follow it.
    /// </summary>
    public ulong Xcr0 { get; set; } = Policy.PvCpuidFeatures.Xcr0X87 | Policy.PvCpuidFeatures.Xcr0Sse;

    /// <summary>vMCE: MCG_STATUS as written.</summary>
    public ulong McgStatus { get; set; }

    /// <summary>vMCE: MCi_CTL2 of the guest's banks (Intel).</summary>
    public ulong[] McCtl2 { get; } = new ulong[GuestMcBanks];
}

/// <summary>
/// Per-domain port-I/O state Xen keeps in struct arch_domain for PV guests: the latched RTC index (port 0x70) and the
/// PCI CONFIG_ADDRESS (port 0xcf8); also the pirq EOI map frame (PHYSDEVOP_pirq_eoi_gmfn). Shared by the domain's vCPUs.
/// </summary>
internal sealed class PvDomainIoState
{
    private static readonly ConditionalWeakTable<Domain, PvDomainIoState> States = new();

    private int _cmosIndex;
    private uint _pciCf8;
    private ulong _pirqEoiMfn;

    public static PvDomainIoState Of(Domain d) => States.GetValue(d, _ => new PvDomainIoState());

    public byte CmosIndex
    {
        get => (byte)Volatile.Read(ref _cmosIndex);
        set => Volatile.Write(ref _cmosIndex, value);
    }

    public uint PciCf8
    {
        get => Volatile.Read(ref _pciCf8);
        set => Volatile.Write(ref _pciCf8, value);
    }

    /// <summary>Records the pirq EOI map frame once; false if one is already registered (Xen: -EBUSY).</summary>
    public bool TrySetPirqEoiFrame(ulong mfn) => Interlocked.CompareExchange(ref _pirqEoiMfn, mfn, 0) == 0;

    public ulong PirqEoiFrame => Interlocked.Read(ref _pirqEoiMfn);
}
