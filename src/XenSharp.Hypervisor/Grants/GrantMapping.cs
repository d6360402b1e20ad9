using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Mmu;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// map_grant_ref and unmap_common (xen/common/grant_table.c) for PV mappers: a mapping pins the granter's entry (its
/// <see cref="ActiveGrant"/> and the GTF_reading/GTF_writing status), holds references on the granted frame, writes
/// the host PTE (<see cref="GrantPte"/>) and is remembered under a handle in the mapper's <see cref="Maptrack"/>.
/// <para>
/// References on the granted frame, in the granter's frame table (as Xen's map_grant_ref takes them): one general
/// reference per mapping kind (host, device), plus a Writable type reference for each kind that is not
/// GNTMAP_readonly. So a frame mapped writable can never become a page table or descriptor page, a page table can only
/// be mapped read-only, and a mapped frame can never be given back (decrease_reservation needs it unreferenced). They
/// are dropped when that mapping kind is unmapped — after the mapper's TLBs were asked to flush — or, for a host
/// mapping of the caller's own frame, when its PTE is taken down otherwise (see <see cref="GrantPte"/>).
/// </para>
/// <para>
/// Locking: the granter's table lock for the whole operation (so the entry, its pin and the table version are stable),
/// inside it the granter's MMU lock for the frame's references and the mapper's MMU lock for the PTE, one at a time;
/// the mapper's <see cref="Maptrack"/> lock is a leaf. Every guest mistake is a GNTST_* status with a reason for the
/// log; nothing here throws for guest input.
/// </para>
/// <para>
/// Another domain's grants: its frame is not in the mapper's KVM machine (whose memory covers the mapper's own
/// frames), so a host mapping first adds that one frame (<see cref="ForeignFrames"/>) and the last unmap removes it.
/// Such a PTE holds no references itself (the validator ignores entries to frames the domain does not own, which only
/// grant PTEs can be): the mapping holds them, counted in <see cref="FrameInfo.ForeignRefs"/>, until it is unmapped by
/// handle or the mapper dies. So a foreign frame stays referenced and reachable exactly while a handle names it, even if
/// the PTE was overwritten meanwhile; and a granter destroyed while mapped leaves the frame to the mapper until then
/// (MachinePool orphans it).
/// </para>
/// </summary>
internal static class GrantMapping
{
    /// <summary>The domain the host-side backends act as (see Events.EventChannelOp.BackendDomain).</summary>
    public const ushort BackendDomain = Events.EventChannelOp.BackendDomain;

    /// <summary>
    /// Entries in the backend domain's (empty) table: like every Xen domain it has INITIAL_NR_GRANT_FRAMES v1 frames,
    /// and it grants nothing, so its 512 entries are all invalid.
    /// </summary>
    public const uint BackendEntries = GrantTable.InitialGrantFrames * GrantTable.EntriesPerFrameV1;

    /// <summary>Xen's __addr_ok for a 64-bit PV guest: below the non-canonical hole, or above the hypervisor's area.</summary>
    public static bool AddressOk(ulong va) => XenVirtualLayout.IsGuestAddress(va);

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

    /// <summary>
    /// GNTTABOP_map_grant_ref for <paramref name="vcpu"/>'s domain. On GNTST_okay, <paramref name="handle"/> names the
    /// mapping and <paramref name="busAddr"/> is the frame's machine address (dev_bus_addr); otherwise nothing changed
    /// and <paramref name="reason"/> says why.
    /// </summary>
    public static short Map(Vcpu vcpu, in GrantMapRequest op, out uint handle, out ulong busAddr, out string? reason)
    {
        Domain ld = vcpu.Domain;
        handle = 0;
        busAddr = 0;
        uint increment = GrantPin.Increment(op.Flags);
        if (increment == 0)
        {
            reason = $"bad flags in grant map op: {op.Flags:x}";
            return BadGntref;
        }

        // By id only: DOMID_SELF is not accepted here (rcu_lock_domain_by_id).
        Domain? rd = FindDomain(ld.Hypervisor, op.Dom);
        if (rd is null)
        {
            return MapFromBackend(op, out reason);
        }

        Maptrack maptrack = ld.Grants.Maptrack;
        if (!maptrack.TryAllocate(out handle))
        {
            reason = "failed to obtain maptrack handle";
            return NoSpace;
        }

        short rc = MapEntry(vcpu, rd, op, increment, handle, out busAddr, out reason);
        if (rc != Okay)
        {
            maptrack.Free(handle);
            handle = 0;
        }

        return rc;
    }

    /// <summary>The backend domain (the host) has no table object: every ref is out of range or invalid.</summary>
    private static short MapFromBackend(in GrantMapRequest op, out string? reason)
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

        reason = $"bad flags (0) or dom (0) in d{op.Dom} ref {op.Ref:x}";
        return GeneralError;
    }

    private static short MapEntry(Vcpu vcpu, Domain rd, in GrantMapRequest op, uint increment, uint handle, out ulong busAddr, out string? reason)
    {
        Domain ld = vcpu.Domain;
        GrantTable rgt = rd.Grants;
        bool ro = (op.Flags & GntmapReadonly) != 0;
        busAddr = 0;
        lock (rgt.Lock)
        {
            if (rgt.IsDead)
            {
                reason = $"d{rd.Id} is being destroyed";
                return BadDomain;
            }

            if (op.Ref >= rgt.NrEntries)
            {
                reason = $"bad ref {op.Ref:x} for d{rd.Id}";
                return BadGntref;
            }

            ActiveGrant? act = rgt.ActiveEntry(op.Ref);
            if (act is not null && (act.Mapper != ld.Id || GrantPin.WouldOverflow(act.Pin, increment)))
            {
                reason = $"d{rd.Id} ref {op.Ref:x} is mapped by d{act.Mapper} (pin {act.Pin:x}), or its count would overflow";
                return GeneralError;
            }

            if (act is null || (!ro && (act.Pin & GrantPin.WriteMask) == 0))
            {
                short rc = rgt.SetStatus(op.Ref, pinned: act is not null, ro, ld.Id, out reason);
                if (rc != Okay)
                {
                    return rc;
                }

                if (act is null)
                {
                    // get_paged_frame: a PV granter names a machine frame, which must be one of its own pages.
                    rgt.TryReadEntry(op.Ref, out _, out _, out ulong frame);
                    FrameTable frames = rd.Pool.Frames;
                    if (frame >= frames.FrameCount || frames[new Mfn(frame)].Owner != rd.Id)
                    {
                        rgt.ReduceStatusForPin(op.Ref, 0, ro);
                        reason = $"d{rd.Id} ref {op.Ref:x} grants frame {frame:x}, not one of its pages";
                        return BadPage;
                    }

                    act = new ActiveGrant { Mapper = ld.Id, Frame = new Mfn(frame) };
                    rgt.Activate(op.Ref, act);
                }
            }


            act.Pin += increment;
            bool foreign = rd != ld;
            if (!TakeReferences(rd, act.Frame, op.Flags, foreign))
            {
                Unpin(rgt, op.Ref, act, increment, ro);
                reason = $"could not pin grant frame {act.Frame}: it is in use as a {rd.Pool.Frames[act.Frame].Type}";
                return GeneralError;
            }

            if ((op.Flags & GntmapHostMap) != 0)
            {
                short rc = Okay;
                reason = null;
                if (foreign && !ld.ForeignFrames.TryAdd(act.Frame))
                {
                    rc = GeneralError;
                    reason = $"d{rd.Id}'s frame {act.Frame} cannot be added to d{ld.Id}'s machine";
                }
                else if ((rc = GrantPte.Create(vcpu, op.HostAddr, act.Frame, op.Flags, out reason)) != Okay && foreign)
                {
                    ld.ForeignFrames.Remove(act.Frame);
                }

                if (rc != Okay)
                {
                    DropReferences(rd, act.Frame, op.Flags, foreign);
                    Unpin(rgt, op.Ref, act, increment, ro);
                    return rc;
                }
            }

            ld.Grants.Maptrack.Set(handle, new MaptrackEntry((ushort)op.Flags, rd, op.Ref));
            busAddr = act.Frame.Address;
            reason = null;
            return Okay;
        }
    }

    /// <summary>
    /// GNTTABOP_unmap_grant_ref / unmap_and_replace for one request: takes down the host mapping (when
    /// <see cref="GrantUnmapRequest.HostAddr"/> is given and the handle has one) and the device mapping (when the
    /// device address is given), drops their references, and frees the handle once neither is left.
    /// </summary>
    public static short Unmap(Vcpu vcpu, in GrantUnmapRequest op, out string? reason)
    {
        Domain ld = vcpu.Domain;
        Maptrack maptrack = ld.Grants.Maptrack;
        if (!maptrack.TryGet(op.Handle, out MaptrackEntry seen))
        {
            reason = $"bad d{ld.Id} handle {op.Handle:x}";
            return BadHandle;
        }

        if (!seen.InUse)
        {
            reason = $"zero flags for d{ld.Id} handle {op.Handle:x}";
            return BadHandle;
        }

        Domain rd = seen.Granter;
        GrantTable rgt = rd.Grants;
        lock (rgt.Lock)
        {
            // Another vCPU may have unmapped (and even reused) the handle meanwhile.
            if (!maptrack.TryGet(op.Handle, out MaptrackEntry map) || map != seen || rgt.ActiveEntry(map.Ref) is not { } act)
            {
                reason = $"unstable handle {op.Handle:x}";
                return BadHandle;
            }

            uint flags = map.Flags;
            if (op.DevBusAddr != 0 && (flags & GntmapDeviceMap) != 0 && op.DevBusAddr != act.Frame.Address)
            {
                reason = $"bus address {op.DevBusAddr:x} does not match the grant ({act.Frame.Address:x})";
                return BadDevAddr;
            }

            uint done = 0;
            if (op.HostAddr != 0 && (flags & GntmapHostMap) != 0)
            {
                short rc = GrantPte.Replace(vcpu, op.HostAddr, act.Frame, op.NewAddr, flags, out reason);
                if (rc != Okay)
                {
                    return rc;
                }

                done |= GntmapHostMap;
            }

            if (op.DevBusAddr != 0 && (flags & GntmapDeviceMap) != 0)
            {
                done |= GntmapDeviceMap;
            }

            flags &= ~done;
            if ((flags & (GntmapHostMap | GntmapDeviceMap)) == 0)
            {
                maptrack.Free(op.Handle);
            }
            else
            {
                maptrack.Set(op.Handle, map with { Flags = (ushort)flags });
            }

            if (done != 0)
            {
                // No translation of the frame may outlive its references (Xen's gnttab_flush_tlb before the puts).
                ld.Mmu.FlushAllVcpus();
                uint kinds = done | (map.Flags & GntmapReadonly);
                bool foreign = rd != ld;
                if (foreign && (done & GntmapHostMap) != 0)
                {
                    // Out of the machine before the references go: the last one may free an orphaned frame for reuse.
                    ld.ForeignFrames.Remove(act.Frame);
                }

                DropReferences(rd, act.Frame, kinds, foreign);

                Unpin(rgt, map.Ref, act, GrantPin.Increment(kinds), (map.Flags & GntmapReadonly) != 0);
            }

            reason = null;
            return Okay;
        }
    }

    /// <summary>
    /// The references one request's mapping kinds hold on <paramref name="frame"/> (map_grant_ref's refcnt/typecnt):
    /// a general reference per kind and a Writable type reference per writable kind, counted as foreign references too
    /// when the mapper is another domain. All or nothing.
    /// </summary>
    internal static bool TakeReferences(Domain rd, Mfn frame, uint flags, bool foreign)
    {
        PageTableValidator v = rd.Mmu.Validator;
        bool ro = (flags & GntmapReadonly) != 0;
        uint kinds = Kinds(flags);
        lock (rd.Mmu.Lock)
        {
            for (uint i = 0; i < kinds; i++)
            {
                int rc = ro ? v.GetPage(frame) : v.GetPageAndType(frame, PageType.Writable);
                if (rc != 0)
                {
                    while (i-- > 0)
                    {
                        Put(v, frame, ro);
                    }

                    return false;
                }
            }

            if (foreign)
            {
                rd.Pool.Frames[frame].ForeignRefs += kinds;
            }

            return true;
        }
    }

    /// <summary>
    /// Drops what <see cref="TakeReferences"/> took for the mapping kinds in <paramref name="flags"/>. A frame orphaned
    /// by its owner's destruction only loses the foreign count: its other counts died with the owner, and the last
    /// foreign reference frees it.
    /// </summary>
    internal static void DropReferences(Domain rd, Mfn frame, uint flags, bool foreign)
    {
        PageTableValidator v = rd.Mmu.Validator;
        bool ro = (flags & GntmapReadonly) != 0;
        lock (rd.Mmu.Lock)
        {
            for (uint i = 0; i < Kinds(flags); i++)
            {
                if (rd.Pool.Frames[frame].Owner != FrameOwner.Orphaned)
                {
                    Put(v, frame, ro);
                }

                if (foreign)
                {
                    rd.Pool.DropForeignReference(frame);
                }
            }
        }
    }

    private static uint Kinds(uint flags) => ((flags & GntmapHostMap) != 0 ? 1u : 0u) + ((flags & GntmapDeviceMap) != 0 ? 1u : 0u);

    private static void Put(PageTableValidator v, Mfn frame, bool ro)
    {
        if (ro)
        {
            v.PutPage(frame);
        }
        else
        {
            v.PutPageAndType(frame);
        }
    }

    /// <summary>
    /// Domain teardown (Xen's gnttab_release_mappings): every mapping <paramref name="ld"/> holds of another domain's
    /// grants gives its references and pins back, without touching page tables (the domain's are being freed) or the
    /// machine (gone already). Mappings of its own grants die with its frames.
    /// </summary>
    public static void ReleaseAll(Domain ld)
    {
        ld.ForeignFrames.Attach(null);
        Maptrack maptrack = ld.Grants.Maptrack;
        foreach ((uint handle, MaptrackEntry map) in maptrack.Live())
        {
            Domain rd = map.Granter;
            if (rd == ld)
            {
                continue;
            }

            GrantTable rgt = rd.Grants;
            lock (rgt.Lock)
            {
                if (!maptrack.TryGet(handle, out MaptrackEntry now) || now != map || rgt.ActiveEntry(map.Ref) is not { } act)
                {
                    continue;
                }

                uint kinds = map.Flags & (GntmapHostMap | GntmapDeviceMap | GntmapReadonly);
                if ((kinds & GntmapHostMap) != 0)
                {
                    ld.ForeignFrames.Remove(act.Frame);
                }

                DropReferences(rd, act.Frame, kinds, foreign: true);

                Unpin(rgt, map.Ref, act, GrantPin.Increment(kinds), (kinds & GntmapReadonly) != 0);
                maptrack.Free(handle);
            }
        }
    }

    /// <summary>Takes <paramref name="increment"/> off the entry's pin (forgetting it at 0) and reduces its status to match.</summary>
    private static void Unpin(GrantTable rgt, uint gref, ActiveGrant act, uint increment, bool ro)
    {
        act.Pin -= increment;
        if (act.Pin == 0)
        {
            rgt.Deactivate(gref);
        }

        rgt.ReduceStatusForPin(gref, act.Pin, ro);
    }
}
