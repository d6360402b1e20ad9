using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// The memory_op commands that change or describe a domain's memory (xen/common/memory.c, arch/x86 mm.c):
/// increase_reservation, decrease_reservation, populate_physmap, exchange, memory_map and machphys_mfn_list.
/// Reservation changes go through the domain's balloon reserve (<see cref="Pv.Mmu.DomainMmu"/>): frames given back are
/// zeroed and held for the domain, and populate hands them out again, so a domain never holds more than it was built
/// with (its KVM machine maps exactly those frames).
/// </summary>
internal static class MemoryReservationOps
{
    public const int Exchange = 11;

    /// <summary>The largest extent order a domU may ask for (Xen's default domu_max_order).</summary>
    public const int MaxExtentOrder = 9;

    /// <summary>E820 entry type for RAM.</summary>
    public const uint E820Ram = 1;

    private const int MemopExtentShift = 6;
    private const uint PopulateOnDemand = 1u << 16;

    /// <summary>True for the commands this class handles (MemoryOpHypercall routes them here).</summary>
    public static bool Handles(int op) => op is Abi.MemoryOp.IncreaseReservation or Abi.MemoryOp.DecreaseReservation
        or Abi.MemoryOp.PopulatePhysmap or Exchange or Abi.MemoryOp.MemoryMap or Abi.MemoryOp.MachphysMfnList;

    public static long Handle(Vcpu vcpu, ulong cmd, ulong arg)
    {
        int op = (int)(cmd & Abi.MemoryOp.CommandMask);
        ulong startExtent = cmd >> MemopExtentShift;
        return op switch
        {
            Abi.MemoryOp.IncreaseReservation or Abi.MemoryOp.DecreaseReservation or Abi.MemoryOp.PopulatePhysmap =>
                Reservation(vcpu, op, startExtent, arg),
            Exchange => -XenErrno.ENOSYS, // not yet: Linux domUs use it only for swiotlb-xen (dom0 or passthrough)
            Abi.MemoryOp.MemoryMap => startExtent != 0 ? -XenErrno.EINVAL : MemoryMap(vcpu, arg),
            Abi.MemoryOp.MachphysMfnList => startExtent != 0 ? -XenErrno.EINVAL : MachphysMfnList(vcpu, arg),
            _ => -XenErrno.ENOSYS,
        };
    }

    /// <summary>
    /// xen_memory_reservation {extent_start @0, nr_extents @8, extent_order @16, mem_flags @20, domid @24}. Returns the
    /// number of extents done (a bad argument or a refused extent just ends the count early, as in Xen).
    /// </summary>
    private static long Reservation(Vcpu vcpu, int op, ulong start, ulong arg)
    {
        Domain d = vcpu.Domain;
        Span<byte> r = stackalloc byte[32];
        if (!vcpu.CopyFromGuest(arg, r))
        {
            return (long)start;
        }

        ulong list = BinaryPrimitives.ReadUInt64LittleEndian(r);
        ulong nr = BinaryPrimitives.ReadUInt64LittleEndian(r[8..]);
        int order = (int)BinaryPrimitives.ReadUInt32LittleEndian(r[16..]);
        uint memFlags = BinaryPrimitives.ReadUInt32LittleEndian(r[20..]);
        ushort domid = BinaryPrimitives.ReadUInt16LittleEndian(r[24..]);
        if (nr > (uint.MaxValue >> MemopExtentShift) || start >= nr || order is < 0 or > MaxExtentOrder
            || (domid != Abi.MemoryOp.DomidSelf && domid != d.Id) || (memFlags & PopulateOnDemand) != 0)
        {
            return (long)start;
        }

        Span<byte> slot = stackalloc byte[8];
        ulong i = start;
        for (; i < nr; i++)
        {
            ulong va = list + (i * 8);
            if (op == Abi.MemoryOp.DecreaseReservation)
            {
                if (!vcpu.CopyFromGuest(va, slot))
                {
                    break;
                }

                ulong gmfn = BinaryPrimitives.ReadUInt64LittleEndian(slot);
                bool ok = true;
                for (ulong j = 0; ok && j < 1UL << order; j++)
                {
                    ok = d.Mmu.RemovePage(new Mfn(gmfn + j)) == 0;
                }

                if (!ok)
                {
                    break;
                }

                continue;
            }

            ulong? pfn = null;
            if (op == Abi.MemoryOp.PopulatePhysmap)
            {
                if (!vcpu.CopyFromGuest(va, slot))
                {
                    break;
                }

                pfn = BinaryPrimitives.ReadUInt64LittleEndian(slot);
            }

            if (d.Mmu.CurrentPages + (1UL << order) > d.MaxPages || d.Mmu.AddExtent(order, pfn, out Mfn first) != 0)
            {
                break;
            }

            if (list != 0 || op == Abi.MemoryOp.PopulatePhysmap)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(slot, first.Value);
                if (!vcpu.CopyToGuest(va, slot))
                {
                    break;
                }
            }
        }

        return (long)i;
    }

    /// <summary>XENMEM_memory_map {nr_entries u32 @0 (in: room, out: count), buffer @8}: one RAM entry [0, maxmem), as libxl gives a PV guest.</summary>
    private static long MemoryMap(Vcpu vcpu, ulong arg)
    {
        Span<byte> map = stackalloc byte[16];
        if (!vcpu.CopyFromGuest(arg, map))
        {
            return -XenErrno.EFAULT;
        }

        uint room = BinaryPrimitives.ReadUInt32LittleEndian(map);
        ulong buffer = BinaryPrimitives.ReadUInt64LittleEndian(map[8..]);
        uint count = Math.Min(room, 1u);
        if (count == 1)
        {
            Span<byte> e = stackalloc byte[20];
            BinaryPrimitives.WriteUInt64LittleEndian(e, 0);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], vcpu.Domain.MaxPages * Mfn.PageSize);
            BinaryPrimitives.WriteUInt32LittleEndian(e[16..], E820Ram);
            if (!vcpu.CopyToGuest(buffer, e))
            {
                return -XenErrno.EFAULT;
            }
        }

        BinaryPrimitives.WriteUInt32LittleEndian(map, count);
        return vcpu.CopyToGuest(arg, map[..4]) ? 0 : -XenErrno.EFAULT;
    }

    /// <summary>XENMEM_machphys_mfn_list {max_extents u32 @0, extent_start @8, nr_extents u32 @16 out}: the M2P's 2 MiB chunks.</summary>
    private static long MachphysMfnList(Vcpu vcpu, ulong arg)
    {
        Span<byte> x = stackalloc byte[24];
        if (!vcpu.CopyFromGuest(arg, x))
        {
            return -XenErrno.EFAULT;
        }

        uint max = BinaryPrimitives.ReadUInt32LittleEndian(x);
        ulong list = BinaryPrimitives.ReadUInt64LittleEndian(x[8..]);
        MachinePool pool = vcpu.Domain.Pool;
        uint i = 0;
        Span<byte> slot = stackalloc byte[8];
        for (; i != max && i < (uint)pool.M2pLargePages; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(slot, pool.M2p.First.Value + ((ulong)i * 512));
            if (!vcpu.CopyToGuest(list + ((ulong)i * 8), slot))
            {
                return -XenErrno.EFAULT;
            }
        }

        BinaryPrimitives.WriteUInt32LittleEndian(x[16..], i);
        return vcpu.CopyToGuest(arg + 16, x.Slice(16, 4)) ? 0 : -XenErrno.EFAULT;
    }
}
