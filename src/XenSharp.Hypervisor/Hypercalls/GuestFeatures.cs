namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// XENFEAT bits reported to a PV domU (XENVER_get_features submap 0): only features XenSharp implements.
/// Xen also reports mmu_pt_update_preserve_ad and gnttab_map_avail_bits; they come with mmu_update and grant tables.
/// </summary>
internal static class GuestFeatures
{
    public const uint Submap0 = 0;
}
