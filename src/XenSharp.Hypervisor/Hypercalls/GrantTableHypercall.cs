using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Grants;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// grant_table_op(cmd, uop, count) (20), after do_grant_table_op (xen/common/grant_table.c). Per-op failures go into
/// each op's status field (GNTST_*) and the hypercall returns 0; the hypercall itself fails only for a bad command or
/// count (-EINVAL), an op array or struct that cannot be read or its result written (-EFAULT), and the version and
/// get_version errors Xen returns directly. setup_table, query_size and get_status_frames take exactly one op
/// (count 1, else -EINVAL), set_version and get_version one struct whatever the count.
/// <para>
/// Implemented: map_grant_ref, unmap_grant_ref and unmap_and_replace for PV mappers (<see cref="GrantMapping"/>), of the
/// caller's own grants and other domains', setup_table, query_size,
/// set_version (v1 and v2), get_status_frames, get_version, swap_grant_ref, copy (<see cref="GrantCopy"/>). transfer is
/// -ENOSYS; dump_table
/// and cache_flush are -ENOSYS as on x86 Xen.
/// </para>
/// Xen preempts long batches with a continuation; here a batch runs to its end, but stops (-EINTR, never seen by the
/// guest) once the vCPU is asked to stop, so a hostile count cannot hold up destroying the domain.
/// </summary>
internal static class GrantTableHypercall
{
    public static long GrantTableOp(Vcpu vcpu, ulong cmdArg, ulong uop, ulong countArg, ulong a4, ulong a5)
    {
        uint cmd = (uint)cmdArg;
        uint count = (uint)countArg;
        if ((int)count < 0)
        {
            return -XenErrno.EINVAL;
        }

        uint opaque = cmd & ~CommandMask;
        cmd &= CommandMask;
        if (cmd != CacheFlush && opaque != 0)
        {
            return -XenErrno.EINVAL;
        }

        switch (cmd)
        {
            case MapGrantRef:
                return GrantMapping.AddressOk(uop) ? Map(vcpu, uop, count) : -XenErrno.EFAULT;
            case UnmapGrantRef:
                return GrantMapping.AddressOk(uop) ? Unmap(vcpu, uop, count, replace: false) : -XenErrno.EFAULT;
            case UnmapAndReplace:
                return GrantMapping.AddressOk(uop) ? Unmap(vcpu, uop, count, replace: true) : -XenErrno.EFAULT;
            case SetupTable:
                return Setup(vcpu, uop, count);
            case QuerySize:
                return QuerySizeOp(vcpu, uop, count);
            case SetVersion:
                return SetVersionOp(vcpu, uop);
            case GetStatusFrames:
                return GetStatusFramesOp(vcpu, uop, count);
            case GetVersion:
                return GetVersionOp(vcpu, uop);
            case SwapGrantRef:
                return GrantMapping.AddressOk(uop) ? Swap(vcpu, uop, count) : -XenErrno.EFAULT;
            case Copy:
                return GrantMapping.AddressOk(uop) ? CopyOp(vcpu, uop, count) : -XenErrno.EFAULT;
            default:
            {
                // transfer (not yet); dump_table, cache_flush and unknown commands (as Xen on x86).
                Domain d = vcpu.Domain;
                d.Log.Limited($"d{d.Id}-gnttabop-{cmd}", $"(d{d.Id}v{vcpu.Id}) unimplemented grant_table_op {cmd}: -ENOSYS");
                return -XenErrno.ENOSYS;
            }
        }
    }

    private static long Map(Vcpu vcpu, ulong uop, uint count)
    {
        Domain d = vcpu.Domain;
        Span<byte> op = stackalloc byte[MapSize];
        for (uint i = 0; i < count; i++)
        {
            if (vcpu.StopRequested)
            {
                return -XenErrno.EINTR;
            }

            ulong va = uop + ((ulong)i * MapSize);
            if (!vcpu.CopyFromGuest(va, op))
            {
                return -XenErrno.EFAULT;
            }

            var req = new GrantMapRequest(
                BinaryPrimitives.ReadUInt64LittleEndian(op),
                BinaryPrimitives.ReadUInt32LittleEndian(op[MapFlags..]),
                BinaryPrimitives.ReadUInt32LittleEndian(op[MapRef..]),
                BinaryPrimitives.ReadUInt16LittleEndian(op[MapDom..]));
            short status = GrantMapping.Map(vcpu, req, out uint handle, out ulong busAddr, out string? reason);
            if (status == Okay)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(op[MapHandle..], handle);
                BinaryPrimitives.WriteUInt64LittleEndian(op[MapDevBusAddr..], busAddr);
            }
            else
            {
                d.Log.Limited($"d{d.Id}-gnttab-map-fail", $"(d{d.Id}v{vcpu.Id}) grant map failed ({status}): {reason}");
            }

            // As Xen, a mapping made stays made even if its result cannot be written back.
            BinaryPrimitives.WriteInt16LittleEndian(op[MapStatus..], status);
            if (!vcpu.CopyToGuest(va, op))
            {
                return -XenErrno.EFAULT;
            }
        }

        return 0;
    }

    /// <summary>gnttab_copy ops (40 bytes each): each op's status @36 is written back, nothing else.</summary>
    private static long CopyOp(Vcpu vcpu, ulong uop, uint count)
    {
        Domain d = vcpu.Domain;
        Span<byte> op = stackalloc byte[CopySize];
        Span<byte> status = stackalloc byte[2];
        for (uint i = 0; i < count; i++)
        {
            if (vcpu.StopRequested)
            {
                return -XenErrno.EINTR;
            }

            ulong va = uop + ((ulong)i * CopySize);
            if (!vcpu.CopyFromGuest(va, op))
            {
                return -XenErrno.EFAULT;
            }

            short rc = GrantCopy.Copy(vcpu, Ptr(op), Ptr(op[CopyDest..]), BinaryPrimitives.ReadUInt16LittleEndian(op[CopyLen..]),
                BinaryPrimitives.ReadUInt16LittleEndian(op[CopyFlags..]), out string? reason);
            if (rc != Okay)
            {
                d.Log.Limited($"d{d.Id}-gnttab-copy-fail", $"(d{d.Id}v{vcpu.Id}) grant copy failed ({rc}): {reason}");
            }

            BinaryPrimitives.WriteInt16LittleEndian(status, rc);
            if (!vcpu.CopyToGuest(va + CopyStatus, status))
            {
                return -XenErrno.EFAULT;
            }
        }

        return 0;

        static GrantCopyPtr Ptr(ReadOnlySpan<byte> p) => new(
            BinaryPrimitives.ReadUInt64LittleEndian(p),
            BinaryPrimitives.ReadUInt16LittleEndian(p[CopyPtrDomid..]),
            BinaryPrimitives.ReadUInt16LittleEndian(p[CopyPtrOffset..]));
    }

    /// <summary>
    /// unmap_grant_ref (host_addr @0, dev_bus_addr @8) and unmap_and_replace (host_addr @0, new_addr @8): handle @16,
    /// status @20 written back. An unmap done stays done even if its status cannot be written (-EFAULT).
    /// </summary>
    private static long Unmap(Vcpu vcpu, ulong uop, uint count, bool replace)
    {
        Domain d = vcpu.Domain;
        int size = replace ? UnmapAndReplaceSize : UnmapSize;
        Span<byte> op = stackalloc byte[size];
        Span<byte> status = stackalloc byte[2];
        for (uint i = 0; i < count; i++)
        {
            if (vcpu.StopRequested)
            {
                return -XenErrno.EINTR;
            }

            ulong va = uop + ((ulong)i * (ulong)size);
            if (!vcpu.CopyFromGuest(va, op))
            {
                return -XenErrno.EFAULT;
            }

            ulong hostAddr = BinaryPrimitives.ReadUInt64LittleEndian(op);
            ulong second = BinaryPrimitives.ReadUInt64LittleEndian(op[8..]);
            uint handle = BinaryPrimitives.ReadUInt32LittleEndian(op[UnmapHandle..]);
            GrantUnmapRequest req = replace
                ? new GrantUnmapRequest(handle, hostAddr, DevBusAddr: 0, NewAddr: second)
                : new GrantUnmapRequest(handle, hostAddr, DevBusAddr: second, NewAddr: 0);
            short s = GrantMapping.Unmap(vcpu, req, out string? reason);
            if (s != Okay)
            {
                d.Log.Limited($"d{d.Id}-gnttab-unmap-fail", $"(d{d.Id}v{vcpu.Id}) grant unmap failed ({s}): {reason}");
            }

            BinaryPrimitives.WriteInt16LittleEndian(status, s);
            if (!vcpu.CopyToGuest(va + UnmapStatus, status))
            {
                return -XenErrno.EFAULT;
            }
        }

        return 0;
    }

    private static long Setup(Vcpu vcpu, ulong uop, uint count)
    {
        if (count != 1)
        {
            return -XenErrno.EINVAL;
        }

        Span<byte> op = stackalloc byte[SetupTableSize];
        if (!vcpu.CopyFromGuest(uop, op))
        {
            return -XenErrno.EFAULT;
        }

        ushort dom = BinaryPrimitives.ReadUInt16LittleEndian(op);
        uint nrFrames = BinaryPrimitives.ReadUInt32LittleEndian(op[SetupTableNrFrames..]);
        ulong frameList = BinaryPrimitives.ReadUInt64LittleEndian(op[SetupTableFrameList..]);
        if (!GrantMapping.AddressOk(frameList))
        {
            return -XenErrno.EFAULT;
        }

        short status = Target(vcpu.Domain, dom);
        if (status == Okay)
        {
            GrantTable gt = vcpu.Domain.Grants;
            status = gt.Setup(nrFrames);
            Span<byte> mfn = stackalloc byte[8];
            for (uint i = 0; status == Okay && i < nrFrames; i++)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(mfn, gt.SharedFrame(i).Value);
                if (!vcpu.CopyToGuest(frameList + ((ulong)i * 8), mfn))
                {
                    status = BadVirtAddr;
                }
            }
        }

        return WriteStatus(vcpu, uop + SetupTableStatus, status);
    }

    private static long QuerySizeOp(Vcpu vcpu, ulong uop, uint count)
    {
        if (count != 1)
        {
            return -XenErrno.EINVAL;
        }

        Span<byte> op = stackalloc byte[QuerySizeSize];
        if (!vcpu.CopyFromGuest(uop, op))
        {
            return -XenErrno.EFAULT;
        }

        short status = Target(vcpu.Domain, BinaryPrimitives.ReadUInt16LittleEndian(op));
        if (status == Okay)
        {
            GrantTable gt = vcpu.Domain.Grants;
            lock (gt.Lock)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(op[QuerySizeNrFrames..], gt.NrGrantFrames);
            }

            BinaryPrimitives.WriteUInt32LittleEndian(op[QuerySizeMaxNrFrames..], GrantTable.MaxGrantFrames);
        }

        BinaryPrimitives.WriteInt16LittleEndian(op[QuerySizeStatus..], status);
        return vcpu.CopyToGuest(uop, op) ? 0 : -XenErrno.EFAULT;
    }

    /// <summary>set_version always writes back the version in effect afterwards, also after an error.</summary>
    private static long SetVersionOp(Vcpu vcpu, ulong uop)
    {
        Span<byte> op = stackalloc byte[SetVersionSize];
        if (!vcpu.CopyFromGuest(uop, op))
        {
            return -XenErrno.EFAULT;
        }

        GrantTable gt = vcpu.Domain.Grants;
        int rc = gt.SetVersion(BinaryPrimitives.ReadUInt32LittleEndian(op));
        BinaryPrimitives.WriteUInt32LittleEndian(op, gt.Version);
        return vcpu.CopyToGuest(uop, op) ? rc : -XenErrno.EFAULT;
    }

    private static long GetStatusFramesOp(Vcpu vcpu, ulong uop, uint count)
    {
        if (count != 1)
        {
            return -XenErrno.EINVAL;
        }

        Span<byte> op = stackalloc byte[GetStatusFramesSize];
        if (!vcpu.CopyFromGuest(uop, op))
        {
            return -XenErrno.EFAULT;
        }

        uint nrFrames = BinaryPrimitives.ReadUInt32LittleEndian(op);
        ulong frameList = BinaryPrimitives.ReadUInt64LittleEndian(op[GetStatusFramesFrameList..]);
        if (!GrantMapping.AddressOk(frameList))
        {
            return -XenErrno.EFAULT;
        }

        short status = Target(vcpu.Domain, BinaryPrimitives.ReadUInt16LittleEndian(op[GetStatusFramesDom..]));
        if (status == Okay)
        {
            GrantTable gt = vcpu.Domain.Grants;
            lock (gt.Lock)
            {
                if (nrFrames > gt.NrStatusFrames)
                {
                    status = GeneralError; // v1 has none; v2 has StatusFramesFor(nr_grant_frames)
                }

                Span<byte> mfn = stackalloc byte[8];
                for (uint i = 0; status == Okay && i < nrFrames; i++)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(mfn, gt.StatusFrame(i).Value);
                    if (!vcpu.CopyToGuest(frameList + ((ulong)i * 8), mfn))
                    {
                        status = BadVirtAddr;
                    }
                }
            }
        }

        return WriteStatus(vcpu, uop + GetStatusFramesStatus, status);
    }

    private static long GetVersionOp(Vcpu vcpu, ulong uop)
    {
        Span<byte> op = stackalloc byte[GetVersionSize];
        if (!vcpu.CopyFromGuest(uop, op))
        {
            return -XenErrno.EFAULT;
        }

        switch (Target(vcpu.Domain, BinaryPrimitives.ReadUInt16LittleEndian(op)))
        {
            case BadDomain:
                return -XenErrno.ESRCH;
            case PermissionDenied:
                return -XenErrno.EPERM;
        }

        Span<byte> version = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(version, vcpu.Domain.Grants.Version);
        return vcpu.CopyToGuest(uop + GetVersionVersion, version) ? 0 : -XenErrno.EFAULT;
    }

    private static long Swap(Vcpu vcpu, ulong uop, uint count)
    {
        Span<byte> op = stackalloc byte[SwapSize];
        Span<byte> status = stackalloc byte[2];
        for (uint i = 0; i < count; i++)
        {
            if (vcpu.StopRequested)
            {
                return -XenErrno.EINTR;
            }

            ulong va = uop + ((ulong)i * SwapSize);
            if (!vcpu.CopyFromGuest(va, op))
            {
                return -XenErrno.EFAULT;
            }

            short s = vcpu.Domain.Grants.Swap(BinaryPrimitives.ReadUInt32LittleEndian(op), BinaryPrimitives.ReadUInt32LittleEndian(op[4..]));
            BinaryPrimitives.WriteInt16LittleEndian(status, s);
            if (!vcpu.CopyToGuest(va + SwapStatus, status))
            {
                return -XenErrno.EFAULT;
            }
        }

        return 0;
    }

    /// <summary>
    /// rcu_lock_domain_by_any_id plus XSM_TARGET for an unprivileged caller: the caller itself (DOMID_SELF or its id),
    /// GNTST_permission_denied for another domain that exists (the backend domain 0 included), GNTST_bad_domain otherwise.
    /// </summary>
    private static short Target(Domain caller, ushort dom)
    {
        if (dom == DomidSelf || dom == caller.Id)
        {
            return Okay;
        }

        return dom == GrantMapping.BackendDomain || GrantMapping.FindDomain(caller.Hypervisor, dom) is not null
            ? PermissionDenied
            : BadDomain;
    }

    private static long WriteStatus(Vcpu vcpu, ulong va, short status)
    {
        Span<byte> s = stackalloc byte[2];
        BinaryPrimitives.WriteInt16LittleEndian(s, status);
        return vcpu.CopyToGuest(va, s) ? 0 : -XenErrno.EFAULT;
    }
}
