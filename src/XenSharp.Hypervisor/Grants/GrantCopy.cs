using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// GNTTABOP_copy for one op (xen/common/grant_table.c gnttab_copy): copies len bytes from the source to the dest, each a
/// grant reference another domain (or the caller) gave the caller, or — with DOMID_SELF only — a frame of the caller's
/// own. The dest must be writable: a grant not GTF_readonly, a frame that can take a Writable type (never a page table
/// or descriptor page). Neither range may cross its page.
/// <para>
/// Invariants: for the whole copy the granting tables' locks are held (two in domain-id order, as bind_interdomain
/// takes two event tables), so neither granter can be destroyed meanwhile; each granted entry shows GTF_reading (and
/// GTF_writing for the dest) while it is copied, so the granter cannot end access under the copy; each frame holds a
/// general reference (Writable type for the dest), so it cannot be given back; afterwards each entry's status is
/// reduced to what its mappings still need. Every guest mistake is a GNTST_* status with a reason; nothing throws.
/// </para>
/// </summary>
internal static class GrantCopy
{
    public static short Copy(Vcpu vcpu, GrantCopyPtr source, GrantCopyPtr dest, ushort len, ushort flags, out string? reason)
    {
        Domain ld = vcpu.Domain;
        if (source.Offset + len > Mfn.PageSize || dest.Offset + len > Mfn.PageSize)
        {
            reason = $"copy of {len} bytes from offset {source.Offset:x} to offset {dest.Offset:x} crosses a page";
            return BadCopyArg;
        }

        bool srcGref = (flags & GntcopySourceGref) != 0;
        bool dstGref = (flags & GntcopyDestGref) != 0;
        short rc = Owner(ld, source, srcGref, out Domain? sd, out reason);
        if (rc != Okay)
        {
            return rc;
        }

        rc = Owner(ld, dest, dstGref, out Domain? dd, out reason);
        if (rc != Okay)
        {
            return rc;
        }

        // Lock the tables the grants belong to, in domain-id order.
        GrantTable? first = srcGref ? sd!.Grants : null;
        GrantTable? second = dstGref ? dd!.Grants : null;
        if (first is null)
        {
            (first, second) = (second, null);
        }
        else if (second == first)
        {
            second = null;
        }
        else if (second is not null && dd!.Id < sd!.Id)
        {
            (first, second) = (second, first);
        }

        if (first is null)
        {
            return CopyLocked(ld, source, sd!, srcGref, dest, dd!, dstGref, len, out reason);
        }

        lock (first.Lock)
        {
            if (second is null)
            {
                return CopyLockedTables(ld, source, sd!, srcGref, dest, dd!, dstGref, len, out reason);
            }

            lock (second.Lock)
            {
                return CopyLockedTables(ld, source, sd!, srcGref, dest, dd!, dstGref, len, out reason);
            }
        }
    }

    /// <summary>Xen's gnttab_copy_lock_domain: only DOMID_SELF may name a frame; a grant's domain must exist.</summary>
    private static short Owner(Domain ld, GrantCopyPtr ptr, bool isGref, out Domain? owner, out string? reason)
    {
        owner = null;
        reason = null;
        if (!isGref)
        {
            if (ptr.Domid != DomidSelf)
            {
                reason = $"copy names frame {ptr.RefOrFrame:x} of d{ptr.Domid}: only DOMID_SELF may reference by frame";
                return PermissionDenied;
            }

            owner = ld;
            return Okay;
        }

        owner = ptr.Domid == DomidSelf || ptr.Domid == ld.Id ? ld : GrantMapping.FindDomain(ld.Hypervisor, ptr.Domid);
        if (owner is null)
        {
            reason = $"could not find domain {ptr.Domid}";
            return BadDomain;
        }

        return Okay;
    }

    private static short CopyLockedTables(Domain ld, GrantCopyPtr source, Domain sd, bool srcGref, GrantCopyPtr dest, Domain dd, bool dstGref,
        ushort len, out string? reason)
    {
        if ((srcGref && sd.Grants.IsDead) || (dstGref && dd.Grants.IsDead))
        {
            reason = $"d{(srcGref && sd.Grants.IsDead ? sd.Id : dd.Id)} is being destroyed";
            return BadDomain;
        }

        return CopyLocked(ld, source, sd, srcGref, dest, dd, dstGref, len, out reason);
    }

    /// <summary>Acquires both sides, copies, releases them. Caller holds the lock of each side's granting table.</summary>
    private static short CopyLocked(Domain ld, GrantCopyPtr source, Domain sd, bool srcGref, GrantCopyPtr dest, Domain dd, bool dstGref,
        ushort len, out string? reason)
    {
        short rc = Acquire(ld, sd, source, srcGref, write: false, out Mfn from, out reason);
        if (rc != Okay)
        {
            return rc;
        }

        rc = Acquire(ld, dd, dest, dstGref, write: true, out Mfn to, out reason);
        if (rc != Okay)
        {
            Release(sd, source, srcGref, write: false, from);
            return rc;
        }

        MachinePool pool = ld.Pool;
        pool.Frame(from).Slice(source.Offset, len).CopyTo(pool.Frame(to).Slice(dest.Offset, len));
        Release(dd, dest, dstGref, write: true, to);
        Release(sd, source, srcGref, write: false, from);
        return Okay;
    }

    /// <summary>
    /// acquire_grant_for_copy / get_paged_frame: the side's frame with a reference held and, for a grant, the entry's
    /// status showing it in use. Caller holds the granting table's lock.
    /// </summary>
    private static short Acquire(Domain ld, Domain owner, GrantCopyPtr ptr, bool isGref, bool write, out Mfn frame, out string? reason)
    {
        uint mapFlags = GntmapHostMap | (write ? 0 : GntmapReadonly);
        frame = default;
        if (!isGref)
        {
            frame = new Mfn(ptr.RefOrFrame);
            if (!GrantMapping.TakeReferences(ld, frame, mapFlags, foreign: false))
            {
                reason = $"frame {ptr.RefOrFrame:x} is not d{ld.Id}'s{(write ? " or cannot be written" : "")}";
                return BadPage;
            }

            reason = null;
            return Okay;
        }

        GrantTable gt = owner.Grants;
        uint gref = (uint)ptr.RefOrFrame; // grant_ref_t: the union's low 32 bits
        if (gref >= gt.NrEntries)
        {
            reason = $"bad ref {gref:x} for d{owner.Id}";
            return BadGntref;
        }

        ActiveGrant? act = gt.ActiveEntry(gref);
        if (act is not null && act.Mapper != ld.Id)
        {
            reason = $"d{owner.Id} ref {gref:x} is mapped by d{act.Mapper}";
            return GeneralError;
        }

        short rc = gt.SetStatus(gref, pinned: act is not null, readOnly: !write, ld.Id, out reason);
        if (rc != Okay)
        {
            return rc;
        }

        if (act is not null)
        {
            frame = act.Frame;
        }
        else
        {
            gt.TryReadEntry(gref, out _, out _, out ulong f);
            frame = new Mfn(f);
        }

        if (!GrantMapping.TakeReferences(owner, frame, mapFlags, foreign: false))
        {
            gt.ReduceStatusForPin(gref, act?.Pin ?? 0, readOnly: !write);
            reason = $"d{owner.Id} ref {gref:x} grants frame {frame}, not one of its pages{(write ? " or not writable" : "")}";
            return act is null ? BadPage : GeneralError;
        }

        return Okay;
    }

    private static void Release(Domain owner, GrantCopyPtr ptr, bool isGref, bool write, Mfn frame)
    {
        uint mapFlags = GntmapHostMap | (write ? 0 : GntmapReadonly);
        GrantMapping.DropReferences(owner, frame, mapFlags, foreign: false);
        if (isGref)
        {
            uint gref = (uint)ptr.RefOrFrame; // grant_ref_t: the union's low 32 bits
            owner.Grants.ReduceStatusForPin(gref, owner.Grants.ActiveEntry(gref)?.Pin ?? 0, readOnly: !write);
        }
    }
}
