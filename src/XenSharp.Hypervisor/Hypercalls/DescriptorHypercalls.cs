using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>set_gdt and update_descriptor (xen/arch/x86/pv/descriptor-tables.c); the checks are in Pv.Mmu.</summary>
internal static class DescriptorHypercalls
{
    public static long SetGdt(Vcpu vcpu, ulong frameList, ulong entries, ulong a3, ulong a4, ulong a5)
    {
        uint ents = (uint)entries;
        if (ents > XenSelectors.FirstReservedGdtEntry)
        {
            return -XenErrno.EINVAL;
        }

        int count = (int)((ents + 511) / 512);
        Span<byte> raw = stackalloc byte[8 * 14];
        if (!vcpu.CopyFromGuest(frameList, raw[..(8 * count)]))
        {
            return -XenErrno.EFAULT;
        }

        Span<ulong> frames = stackalloc ulong[14];
        for (int i = 0; i < count; i++)
        {
            frames[i] = BinaryPrimitives.ReadUInt64LittleEndian(raw[(8 * i)..]);
        }

        return vcpu.Domain.Mmu.SetGdt(vcpu, frames[..count], ents);
    }

    public static long UpdateDescriptor(Vcpu vcpu, ulong maddr, ulong descriptor, ulong a3, ulong a4, ulong a5) =>
        vcpu.Domain.Mmu.UpdateDescriptor(maddr, descriptor);
}
