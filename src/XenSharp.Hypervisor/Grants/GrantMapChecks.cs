using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Hypervisor.Grants;

/// <summary>One GNTTABOP_map_grant_ref request as the guest wrote it.</summary>
public readonly record struct GrantMapRequest(ulong HostAddr, uint Flags, uint Ref, ushort Dom);

/// <summary>
/// Everything map_grant_ref (xen/common/grant_table.c) and create_grant_pv_mapping (xen/arch/x86/pv/grant_table.c)
/// check before they change anything, in Xen's order and with Xen's GNTST_* status for each failure. Building the
/// mapping itself (pinning the entry, the maptrack handle, page references held for the mapping, the grant PTE, and
/// everything unmap then needs) is not implemented yet: it comes with the split drivers. A request that passes every
/// check is reported as such and the caller refuses it with -ENOSYS, so nothing is ever mapped.
/// <para>
/// Domain 0 is the host-side backend (xenconsoled and friends, as for event channels). Like every Xen domain it has a
/// grant table of INITIAL_NR_GRANT_FRAMES v1 frames, and it grants nothing: its 512 entries are all invalid.
/// </para>
/// </summary>
public static class GrantMapChecks
{
    /// <summary>The domain the host-side backends act as (see Events.EventChannelOp.BackendDomain).</summary>
    public const ushort BackendDomain = Events.EventChannelOp.BackendDomain;

    /// <summary>Entries in the backend domain's (empty) table.</summary>
    public const uint BackendEntries = GrantTable.InitialGrantFrames * GrantTable.EntriesPerFrameV1;

    /// <summary>
    /// Checks <paramref name="op"/> for <paramref name="vcpu"/>'s domain. Returns the failure's GNTST_* status, or
    /// <see cref="GrantTableAbi.Okay"/> when every check passes (the mapping would be made).
    /// </summary>
    public static short Check(Vcpu vcpu, in GrantMapRequest op, out string? reason)
    {
        Domain ld = vcpu.Domain;
        reason = null;
        bool ro = (op.Flags & GntmapReadonly) != 0;
        if ((op.Flags & (GntmapDeviceMap | GntmapHostMap)) == 0)
        {
            reason = $"bad flags in grant map op: {op.Flags:x}";
            return BadGntref;
        }

        // By id only: DOMID_SELF is not accepted here (rcu_lock_domain_by_id).
        Domain? rd = FindDomain(ld.Hypervisor, op.Dom);
        if (rd is null)
        {
            if (op.Dom != BackendDomain)
            {
                reason = $"could not find domain {op.Dom}";
                return BadDomain;
            }

            if (op.Ref >= BackendEntries)
            {
                reason = $"bad ref {op.Ref:x} for d{op.Dom}";
                return BadGntref;
            }

            reason = $"bad flags (0) or dom (0) in d{op.Dom} ref {op.Ref:x}; expected d{ld.Id}";
            return GeneralError;
        }

        // XSM_HOOK: any domain may try to map any other's grants; the entry decides.
        if (!rd.Grants.TryReadEntry(op.Ref, out ushort flags, out ushort domid, out ulong frame))
        {
            reason = $"bad ref {op.Ref:x} for d{rd.Id}";
            return BadGntref;
        }

        // _set_status: a mapping needs a full-page permit_access entry naming the mapper, writable unless mapped r/o.
        if ((flags & (GtfTypeMask | GtfSubPage)) != GtfPermitAccess || domid != ld.Id)
        {
            reason = $"bad flags ({flags:x}) or dom ({domid}) in d{rd.Id} ref {op.Ref:x}; expected d{ld.Id}";
            return GeneralError;
        }

        if (!ro && (flags & GtfReadonly) != 0)
        {
            reason = $"attempt to write-pin r/o grant d{rd.Id} ref {op.Ref:x}";
            return GeneralError;
        }

        // get_paged_frame: for a PV granter the frame is an MFN, and it must be one of the granter's pages.
        FrameTable frames = ld.Pool.Frames;
        var mfn = new Mfn(frame);
        if (frame >= frames.FrameCount || frames[mfn].Owner != rd.Id)
        {
            reason = $"d{rd.Id} ref {op.Ref:x} grants frame {frame:x}, not one of its pages";
            return BadPage;
        }

        // A writable device or host mapping needs the frame's PGT_writable_page type ("could not pin grant frame").
        FrameInfo f = frames[mfn];
        if (!ro && f.TypeCount != 0 && f.Type != PageType.Writable)
        {
            reason = $"could not pin grant frame {frame:x} writable: it is a {f.Type}";
            return GeneralError;
        }

        if ((op.Flags & GntmapHostMap) != 0)
        {
            short rc = CheckHostMapping(vcpu, op.HostAddr, op.Flags, out reason);
            if (rc != Okay)
            {
                return rc;
            }
        }

        return Okay;
    }

    /// <summary>
    /// create_grant_pv_mapping's checks: the L1 entry to write is either named by machine address
    /// (GNTMAP_contains_pte: 8-byte aligned — XSA-227 — in an L1 page table of the caller) or found by walking the
    /// caller's page tables for a linear address. Every failure is GNTST_general_error.
    /// </summary>
    private static short CheckHostMapping(Vcpu vcpu, ulong addr, uint flags, out string? reason)
    {
        Domain ld = vcpu.Domain;
        FrameTable frames = ld.Pool.Frames;
        Mfn l1 = default;
        if ((flags & GntmapContainsPte) != 0)
        {
            if ((addr & 7) != 0)
            {
                reason = $"misaligned PTE address {addr:x}";
                return GeneralError;
            }

            l1 = Mfn.FromAddress(addr);
        }
        else
        {
            bool found;
            lock (ld.Mmu.Lock)
            {
                found = AddressOk(addr) && ld.Mmu.FindL1(vcpu.CurrentL4, addr, out l1, out _);
            }

            if (!found)
            {
                reason = $"could not find L1 PTE for linear address {addr:x}";
                return GeneralError;
            }
        }

        if (!frames.Contains(l1) || frames[l1].Owner != ld.Id || frames[l1].Type != PageType.L1 || frames[l1].TypeCount == 0)
        {
            reason = $"grant PTE at {l1} is not in an L1 page table of d{ld.Id}";
            return GeneralError;
        }

        reason = null;
        return Okay;
    }

    /// <summary>Xen's __addr_ok for a 64-bit PV guest: below the non-canonical hole, or above the hypervisor's area.</summary>
    public static bool AddressOk(ulong va) => va < (1UL << 47) || va >= XenVirtualLayout.HypervisorVirtEnd;

    public static Domain? FindDomain(XenHypervisor hypervisor, ushort id)
    {
        foreach (Domain d in hypervisor.Domains)
        {
            if (d.Id == id)
            {
                return d;
            }
        }

        return null;
    }
}
