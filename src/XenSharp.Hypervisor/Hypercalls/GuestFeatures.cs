using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// XENFEAT bits reported to a 64-bit PV domU (XENVER_get_features submap 0), as Xen 4.17's kernel.c reports them;
/// each is honoured: mmu_pt_update_preserve_ad (MMU_PT_UPDATE_PRESERVE_AD in mmu_update), highmem_assist
/// (MMUEXT_CLEAR_PAGE/COPY_PAGE), gnttab_map_avail_bits (GNTMAP_guest_avail bits into the PTE), memory_op_vnode_supported
/// (XENMEM_get_vnumainfo, -EOPNOTSUPP without vNUMA as Xen's), direct_mapped (PV: no translation), and
/// pae_pgdir_above_4gb while the guest has vm_assist pae_extended_cr3 on. Never writable_page_tables or
/// writable_descriptor_tables (Xen reports the former only to translated guests).
/// </summary>
internal static class GuestFeatures
{
    /// <summary>The bits every PV domU gets.</summary>
    public const uint PvDomU =
        (1u << XenFeature.MmuPtUpdatePreserveAd) |
        (1u << XenFeature.HighmemAssist) |
        (1u << XenFeature.GnttabMapAvailBits) |
        (1u << XenFeature.MemoryOpVnodeSupported) |
        (1u << XenFeature.DirectMapped);

    public static uint Submap0(Domain d) =>
        PvDomU | ((d.VmAssist & (1UL << VmAssist.TypePaeExtendedCr3)) != 0 ? 1u << XenFeature.PaePgdirAbove4Gb : 0);
}
