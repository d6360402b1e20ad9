using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Pv.Policy;

namespace XenSharp.Hypervisor.Pv.Emulation;

/// <summary>
/// The guest's FS base and its two GS bases, kept in the real vCPU's MSRs. Xen's swapgs scheme: the hardware GS_BASE
/// holds the base of the current guest mode and KERNEL_GS_BASE the other one; the stub swaps them (swapgs) when the
/// guest switches between kernel and user mode. So in guest kernel mode the guest's user GS base is the hardware
/// KERNEL_GS_BASE, and in user mode the guest's kernel GS base is. These are read while the vCPU is in the host with no
/// swap pending (a fresh exit), which is when emulation and hypercalls run.
/// </summary>
internal static class SegmentBases
{
    private const uint HardwareGsBase = MsrIndex.GsBase;
    private const uint HardwareInactiveGsBase = MsrIndex.ShadowGsBase;

    public static bool TryReadFs(Vcpu v, out ulong value) => MachineMsr.TryRead(v, MsrIndex.FsBase, out value);

    /// <summary>The active GS base (the guest kernel's, in kernel mode): what MSR_GS_BASE reads.</summary>
    public static bool TryReadActiveGs(Vcpu v, out ulong value) => MachineMsr.TryRead(v, HardwareGsBase, out value);

    /// <summary>The guest's user GS base: what MSR_SHADOW_GS_BASE reads in guest kernel mode.</summary>
    public static bool TryReadUserGs(Vcpu v, out ulong value) => MachineMsr.TryRead(v, UserGsMsr(v), out value);

    public static bool TryWriteFs(Vcpu v, ulong value) => MachineMsr.TryWrite(v, MsrIndex.FsBase, value);

    public static bool TryWriteActiveGs(Vcpu v, ulong value) => MachineMsr.TryWrite(v, HardwareGsBase, value);

    public static bool TryWriteUserGs(Vcpu v, ulong value) => MachineMsr.TryWrite(v, UserGsMsr(v), value);

    private static uint UserGsMsr(Vcpu v) => v.InKernelMode ? HardwareInactiveGsBase : HardwareGsBase;
}
