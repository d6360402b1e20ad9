using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Mmu;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// mmu_update, mmuext_op, update_va_mapping and update_va_mapping_otherdomain (xen/arch/x86/mm.c). Batches stop at the
/// first failure and return its error; *pdone gets the number of requests completed. The work itself is in
/// <see cref="DomainMmu"/> and <see cref="PageTableValidator"/>.
/// </summary>
internal static class MmuHypercalls
{
    public static long MmuUpdate(Vcpu vcpu, ulong reqs, ulong count, ulong pdone, ulong foreigndom, ulong a5)
    {
        Domain d = vcpu.Domain;
        uint n = (uint)count;
        uint done = 0;
        if ((n & MmuAbi.MmuUpdatePreempted) != 0)
        {
            n &= ~MmuAbi.MmuUpdatePreempted;
            ReadDone(vcpu, pdone, ref done);
        }

        // Bits 16–31: the page tables' owner + 1 (0 = the caller); bits 0–15: the mapped pages' owner.
        uint ptDom = (uint)foreigndom >> 16;
        int rc = ptDom != 0 && ptDom - 1 != d.Id ? ForeignDomain(d, (ushort)(ptDom - 1)) : 0;
        if (rc == 0)
        {
            rc = PageOwner(d, (ushort)foreigndom);
        }

        uint i = 0;
        bool flushAll = false;
        Span<byte> req = stackalloc byte[MmuAbi.MmuUpdateSize];
        for (; rc == 0 && i < n; i++)
        {
            if (!vcpu.CopyFromGuest(reqs + ((ulong)i * MmuAbi.MmuUpdateSize), req))
            {
                rc = -XenErrno.EFAULT;
                break;
            }

            ulong ptr = BinaryPrimitives.ReadUInt64LittleEndian(req);
            ulong val = BinaryPrimitives.ReadUInt64LittleEndian(req[8..]);
            int cmd = (int)(ptr & 7);
            switch (cmd)
            {
                case MmuAbi.MmuNormalPtUpdate:
                case MmuAbi.MmuPtUpdatePreserveAd:
                case MmuAbi.MmuPtUpdateNoTranslate:
                    rc = d.Mmu.UpdateEntry(ptr - (ulong)cmd, val, cmd == MmuAbi.MmuPtUpdatePreserveAd, out bool upper);
                    flushAll |= upper;
                    break;
                case MmuAbi.MmuMachphysUpdate:
                    rc = d.Mmu.MachphysUpdate(Mfn.FromAddress(ptr), val);
                    break;
                default:
                    rc = -XenErrno.ENOSYS;
                    break;
            }

            if (rc != 0)
            {
                break;
            }
        }

        if (flushAll)
        {
            // A changed L2–L4 entry may be cached by any vCPU (Xen: flush_linear_pt → all dirty CPUs).
            d.Mmu.FlushAllVcpus();
        }

        WriteDone(vcpu, pdone, done + i);
        return rc;
    }

    public static long MmuextOp(Vcpu vcpu, ulong ops, ulong count, ulong pdone, ulong foreigndom, ulong a5)
    {
        Domain d = vcpu.Domain;
        DomainMmu mmu = d.Mmu;
        uint n = (uint)count;
        uint done = 0;
        if ((n & MmuAbi.MmuUpdatePreempted) != 0)
        {
            n &= ~MmuAbi.MmuUpdatePreempted;
            ReadDone(vcpu, pdone, ref done);
        }

        int rc = PageOwner(d, (ushort)foreigndom);
        if (rc != 0)
        {
            return rc; // Xen fails before the loop without touching *pdone
        }

        uint i = 0;
        Span<byte> op = stackalloc byte[MmuAbi.MmuextOpSize];
        for (; i < n; i++)
        {
            if (!vcpu.CopyFromGuest(ops + ((ulong)i * MmuAbi.MmuextOpSize), op))
            {
                rc = -XenErrno.EFAULT;
                break;
            }

            uint cmd = BinaryPrimitives.ReadUInt32LittleEndian(op);
            ulong arg1 = BinaryPrimitives.ReadUInt64LittleEndian(op[8..]);
            ulong arg2 = BinaryPrimitives.ReadUInt64LittleEndian(op[16..]);
            rc = cmd switch
            {
                MmuAbi.PinL1Table => mmu.Pin(new Mfn(arg1), PageType.L1),
                MmuAbi.PinL2Table => mmu.Pin(new Mfn(arg1), PageType.L2),
                MmuAbi.PinL3Table => mmu.Pin(new Mfn(arg1), PageType.L3),
                MmuAbi.PinL4Table => mmu.Pin(new Mfn(arg1), PageType.L4),
                MmuAbi.UnpinTable => mmu.Unpin(new Mfn(arg1)),
                MmuAbi.NewBasePtr => mmu.NewBasePtr(vcpu, new Mfn(arg1)),
                MmuAbi.NewUserBasePtr => mmu.NewUserBasePtr(vcpu, arg1),
                MmuAbi.TlbFlushLocal or MmuAbi.InvlpgLocal => FlushLocal(vcpu),
                MmuAbi.TlbFlushMulti or MmuAbi.InvlpgMulti => mmu.FlushMask(vcpu, arg2) ? 0 : -XenErrno.EINVAL,
                MmuAbi.TlbFlushAll or MmuAbi.InvlpgAll => FlushAll(mmu),
                MmuAbi.FlushCache or MmuAbi.FlushCacheGlobal => -XenErrno.EACCES, // no cache-flush permission for a domU
                MmuAbi.SetLdt => mmu.SetLdt(vcpu, arg1, (uint)arg2),
                MmuAbi.ClearPage => mmu.ClearPage(new Mfn(arg1)),
                MmuAbi.CopyPage => mmu.CopyPage(new Mfn(arg1), new Mfn(arg2)),
                MmuAbi.MarkSuper or MmuAbi.UnmarkSuper => -XenErrno.EOPNOTSUPP,
                _ => -XenErrno.ENOSYS,
            };

            if (rc != 0)
            {
                break;
            }
        }

        WriteDone(vcpu, pdone, done + i);
        return rc;
    }

    public static long UpdateVaMapping(Vcpu vcpu, ulong va, ulong val, ulong flags, ulong a4, ulong a5) =>
        vcpu.Domain.Mmu.UpdateVaMapping(vcpu, va, val, flags);

    public static long UpdateVaMappingOtherdomain(Vcpu vcpu, ulong va, ulong val, ulong flags, ulong domid, ulong a5)
    {
        int rc = PageOwner(vcpu.Domain, (ushort)domid);
        return rc != 0 ? rc : vcpu.Domain.Mmu.UpdateVaMapping(vcpu, va, val, flags);
    }

    private static int FlushLocal(Vcpu vcpu)
    {
        vcpu.RequestTlbFlush();
        return 0;
    }

    private static int FlushAll(DomainMmu mmu)
    {
        mmu.FlushAllVcpus();
        return 0;
    }

    /// <summary>
    /// Xen's get_pg_owner plus the XSM default for a domU: DOMID_SELF is the caller; its own numeric id is refused
    /// (-ESRCH, "Cannot specify itself as foreign domain"); any other domain, DOMID_IO or DOMID_XEN needs privilege
    /// (-EPERM); an unknown id is -ESRCH.
    /// </summary>
    public static int PageOwner(Domain d, ushort domid)
    {
        if (domid == MmuAbi.DomidSelf)
        {
            return 0;
        }

        return domid == d.Id ? -XenErrno.ESRCH : ForeignDomain(d, domid);
    }

    private static int ForeignDomain(Domain d, ushort domid)
    {
        if (domid is MmuAbi.DomidIo or MmuAbi.DomidXen)
        {
            return -XenErrno.EPERM;
        }

        foreach (Domain other in d.Hypervisor.Domains)
        {
            if (other.Id == domid)
            {
                return -XenErrno.EPERM;
            }
        }

        return -XenErrno.ESRCH;
    }

    private static void ReadDone(Vcpu vcpu, ulong pdone, ref uint done)
    {
        Span<byte> b = stackalloc byte[4];
        if (pdone != 0 && vcpu.CopyFromGuest(pdone, b))
        {
            done = BinaryPrimitives.ReadUInt32LittleEndian(b);
        }
    }

    private static void WriteDone(Vcpu vcpu, ulong pdone, uint done)
    {
        if (pdone != 0)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, done);
            vcpu.CopyToGuest(pdone, b); // Xen ignores a failure here too
        }
    }
}
