using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>memory_op(cmd, arg): the reservation queries and the M2P location so far.</summary>
internal static class MemoryOpHypercall
{
    public static long MemoryOp(Vcpu vcpu, ulong cmd, ulong arg, ulong a3, ulong a4, ulong a5)
    {
        Domain d = vcpu.Domain;
        switch ((int)(cmd & Abi.MemoryOp.CommandMask))
        {
            case Abi.MemoryOp.MaximumRamPage:
                return (long)d.Pool.TotalFrames;
            case Abi.MemoryOp.CurrentReservation:
            case Abi.MemoryOp.MaximumReservation:
            case Abi.MemoryOp.MaximumGpfn:
            {
                Span<byte> id = stackalloc byte[2];
                if (!vcpu.CopyFromGuest(arg, id))
                {
                    return -XenErrno.EFAULT;
                }

                ushort domid = BinaryPrimitives.ReadUInt16LittleEndian(id);
                if (domid != Abi.MemoryOp.DomidSelf && domid != d.Id)
                {
                    return -XenErrno.EPERM; // a domU may only ask about itself
                }

                return (int)(cmd & Abi.MemoryOp.CommandMask) switch
                {
                    Abi.MemoryOp.CurrentReservation => (long)d.Mmu.CurrentPages,
                    Abi.MemoryOp.MaximumReservation => (long)d.MaxPages,
                    _ => (long)d.NrPages - 1,
                };
            }

            case Abi.MemoryOp.MachphysMapping:
            {
                Span<byte> m = stackalloc byte[24];
                ulong start = d.Hypervisor.M2pVirtualStart;
                BinaryPrimitives.WriteUInt64LittleEndian(m, start);
                BinaryPrimitives.WriteUInt64LittleEndian(m[8..], start + (XenVirtualLayout.MachToPhysEnd - XenVirtualLayout.MachToPhysStart));
                BinaryPrimitives.WriteUInt64LittleEndian(m[16..], XenVirtualLayout.MachToPhysEntries - 1);
                return vcpu.CopyToGuest(arg, m) ? 0 : -XenErrno.EFAULT;
            }

            case Abi.MemoryOp.GetVnumaInfo:
                return GetVnumaInfo(vcpu, cmd, arg);
            case int op when MemoryReservationOps.Handles(op): return MemoryReservationOps.Handle(vcpu, cmd, arg);
            default:
                d.Log.Limited($"d{d.Id}-memop-{cmd}", $"(d{d.Id}v{vcpu.Id}) unimplemented memory_op {cmd}: -ENOSYS");
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>
    /// XENMEM_get_vnumainfo as Xen's memory.c answers it: no domain here has a vNUMA topology (xl sets one only with
    /// vnuma=), so a well-formed query about an existing domain is -EOPNOTSUPP; a domU may ask only about itself.
    /// </summary>
    private static long GetVnumaInfo(Vcpu vcpu, ulong cmd, ulong arg)
    {
        if ((cmd >> Abi.MemoryOp.ContinuationShift) != 0)
        {
            return -XenErrno.EINVAL; // no start_extent for this command
        }

        Span<byte> topology = stackalloc byte[VnumaTopologySize];
        if (!vcpu.CopyFromGuest(arg, topology))
        {
            return -XenErrno.EFAULT;
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(topology[2..]) != 0)
        {
            return -XenErrno.EINVAL; // pad
        }

        Domain d = vcpu.Domain;
        ushort domid = BinaryPrimitives.ReadUInt16LittleEndian(topology);
        if (domid == Abi.MemoryOp.DomidSelf || domid == d.Id)
        {
            return -XenErrno.EOPNOTSUPP;
        }

        return d.Hypervisor.Domains.Any(o => o.Id == domid) ? -XenErrno.EPERM : -XenErrno.ESRCH;
    }

    /// <summary>sizeof(struct xen_vnuma_topology_info): domid, pad, three counts, three 8-byte handles.</summary>
    private const int VnumaTopologySize = 40;
}
