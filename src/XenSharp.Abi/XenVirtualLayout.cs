namespace XenSharp.Abi;

/// <summary>The 64-bit PV address-space split (arch-x86/xen-x86_64.h).</summary>
public static class XenVirtualLayout
{
    public const ulong HypervisorVirtStart = 0xffff800000000000;
    public const ulong HypervisorVirtEnd = 0xffff880000000000;
    public const int FirstHypervisorL4Slot = 256;
    public const int LastHypervisorL4Slot = 271;
    public const ulong MachToPhysStart = 0xffff800000000000;
    public const ulong MachToPhysEnd = 0xffff804000000000;
    public const ulong MachToPhysEntries = 1UL << 35;

    /// <summary>An address a PV guest may use: canonical, and outside the hypervisor's reserved range.</summary>
    public static bool IsGuestAddress(ulong va) => va < (1UL << 47) || va >= HypervisorVirtEnd;
}
