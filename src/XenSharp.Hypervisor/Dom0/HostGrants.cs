using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Grants;
using XenSharp.Hypervisor.Memory;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Hypervisor.Dom0;

/// <summary>
/// Domain 0's grant device (xengnttab) for backends: map a guest's grant to domain 0 (the mapper is
/// <see cref="Events.EventChannelOp.BackendDomain"/>, as the guest's frontend wrote it in the entry) and unmap it by
/// disposing the <see cref="HostGrantMapping"/>. The mapping is a device mapping in Xen's terms (no PTE: the backend
/// reaches the frame through the hypervisor's memory), with Xen's checks: the entry must be GTF_permit_access for domain
/// 0, not GTF_readonly for a writable mapping, name one of the granter's own frames, and not be pinned by another
/// domain. Locking as <see cref="GrantMapping"/>: the granter's table lock, inside it the granter's MMU lock.
/// </summary>
public sealed class HostGrants
{
    private const ushort Dom0 = Events.EventChannelOp.BackendDomain;
    private readonly DomainControl _control;

    internal HostGrants(DomainControl control) => _control = control;

    /// <summary>
    /// Maps <paramref name="gref"/> of domain <paramref name="domid"/>; null with a GNTST_* <paramref name="status"/>
    /// (negative, from public/grant_table.h) when the grant does not allow it.
    /// </summary>
    public HostGrantMapping? Map(ushort domid, uint gref, bool readOnly, out short status)
    {
        Domain? rd = _control.Find(domid);
        if (rd is null)
        {
            status = BadDomain;
            return null;
        }

        uint flags = GntmapDeviceMap | (readOnly ? GntmapReadonly : 0);
        uint increment = GrantPin.Increment(flags);
        GrantTable rgt = rd.Grants;
        lock (rgt.Lock)
        {
            if (rgt.IsDead)
            {
                status = BadDomain;
                return null;
            }

            if (gref >= rgt.NrEntries)
            {
                status = BadGntref;
                return null;
            }

            ActiveGrant? act = rgt.ActiveEntry(gref);
            if (act is not null && (act.Mapper != Dom0 || GrantPin.WouldOverflow(act.Pin, increment)))
            {
                status = GeneralError;
                return null;
            }

            if (act is null || (!readOnly && (act.Pin & GrantPin.WriteMask) == 0))
            {
                status = rgt.SetStatus(gref, pinned: act is not null, readOnly, Dom0, out _);
                if (status != Okay)
                {
                    return null;
                }

                if (act is null)
                {
                    rgt.TryReadEntry(gref, out _, out _, out ulong frame);
                    FrameTable frames = rd.Pool.Frames;
                    if (frame >= frames.FrameCount || frames[new Mfn(frame)].Owner != rd.Id)
                    {
                        rgt.ReduceStatusForPin(gref, 0, readOnly);
                        status = BadPage;
                        return null;
                    }

                    act = new ActiveGrant { Mapper = Dom0, Frame = new Mfn(frame) };
                    rgt.Activate(gref, act);
                }
            }

            act.Pin += increment;
            if (!GrantMapping.TakeReferences(rd, act.Frame, flags, foreign: true))
            {
                Unpin(rgt, gref, act, increment, readOnly);
                status = GeneralError;
                return null;
            }

            status = Okay;
            return new HostGrantMapping(rd, gref, readOnly, act.Frame);
        }
    }

    /// <summary>
    /// Grant copy for a backend (GNTTABOP_copy with domain 0 as the caller): copies from <paramref name="gref"/>'s page at
    /// <paramref name="offset"/> into <paramref name="into"/>. A GNTST_* status; GNTST_bad_copy_arg for a range that
    /// crosses the page.
    /// </summary>
    public short CopyFromGuest(ushort domid, uint gref, int offset, Span<byte> into)
    {
        if (offset < 0 || offset + into.Length > Mfn.PageSize)
        {
            return BadCopyArg;
        }

        using HostGrantMapping? m = Map(domid, gref, readOnly: true, out short status);
        if (m is not null)
        {
            using PageAccess a = m.Open();
            a.Bytes.Slice(offset, into.Length).CopyTo(into);
        }

        return status;
    }

    /// <summary>Grant copy for a backend into <paramref name="gref"/>'s page at <paramref name="offset"/> (the grant must be writable).</summary>
    public short CopyToGuest(ushort domid, uint gref, int offset, ReadOnlySpan<byte> from)
    {
        if (offset < 0 || offset + from.Length > Mfn.PageSize)
        {
            return BadCopyArg;
        }

        using HostGrantMapping? m = Map(domid, gref, readOnly: false, out short status);
        if (m is not null)
        {
            using PageAccess a = m.Open();
            from.CopyTo(a.Bytes.Slice(offset, from.Length));
        }

        return status;
    }

    internal static void Unmap(Domain rd, uint gref, bool readOnly, Mfn frame)
    {
        uint flags = GntmapDeviceMap | (readOnly ? GntmapReadonly : 0);
        GrantTable rgt = rd.Grants;
        lock (rgt.Lock)
        {
            GrantMapping.DropReferences(rd, frame, flags, foreign: true);
            if (rgt.ActiveEntry(gref) is { } act)
            {
                Unpin(rgt, gref, act, GrantPin.Increment(flags), readOnly);
            }
        }
    }

    private static void Unpin(GrantTable rgt, uint gref, ActiveGrant act, uint increment, bool readOnly)
    {
        act.Pin -= increment;
        if (act.Pin == 0)
        {
            rgt.Deactivate(gref);
        }

        rgt.ReduceStatusForPin(gref, act.Pin, readOnly);
    }
}
