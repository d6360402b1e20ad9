using System.Buffers.Binary;
using XenSharp.Abi;

namespace XenSharp.Hypervisor.Pv.Mmu;

/// <summary>
/// Xen's check_descriptor for 64-bit PV guests (xen/arch/x86/pv/descriptor-tables.c): which GDT/LDT descriptors a guest
/// may install. Not-present descriptors are harmless; code and data segments are accepted with DPL raised to 3 (the
/// guest kernel runs in ring 3); call gates only to a guest selector, FLAT_KERNEL_CS or an LDT selector, rewritten to
/// DPL 0 (so their use faults and can be emulated) with the original DPL kept in the target selector's RPL; every
/// other system descriptor (TSS, LDT, interrupt and trap gates) is refused.
/// </summary>
internal static class DescriptorValidator
{
    private const uint SegmentType = 15u << 8;
    private const uint SegmentS = 1u << 12;
    private const uint SegmentDpl = 3u << 13;
    private const uint SegmentP = 1u << 15;
    private const uint CallGate64 = 0xcu << 8;
    private const uint GuestKernelRpl = 3;

    /// <summary>Checks one descriptor and applies Xen's fix-ups in place; false when it must be refused.</summary>
    public static bool Check(ref ulong descriptor)
    {
        uint a = (uint)descriptor;
        uint b = (uint)(descriptor >> 32);
        if ((b & SegmentP) == 0)
        {
            return true;
        }

        uint dpl = (b >> 13) & 3;
        if (dpl < GuestKernelRpl)
        {
            dpl = GuestKernelRpl;
        }

        b = (b & ~SegmentDpl) | (dpl << 13);
        if ((b & SegmentS) == 0)
        {
            if ((b & SegmentType) == 0)
            {
                return true; // type 0: harmless, used for the upper half of a 16-byte gate
            }

            if ((b & SegmentType) != CallGate64)
            {
                return false;
            }

            uint cs = a >> 16;
            if (!GateSelectorOk(cs))
            {
                return false;
            }

            b &= ~SegmentDpl;
            cs = (cs & ~3u) | dpl;
            a = (a & 0xffff) | (cs << 16);
            if ((b & 0xff) != 0)
            {
                return false; // reserved bits
            }
        }

        descriptor = a | ((ulong)b << 32);
        return true;
    }

    /// <summary>Xen's guest_gate_selector_okay for a 64-bit guest.</summary>
    public static bool GateSelectorOk(uint selector) =>
        (selector >> 3) < XenSelectors.FirstReservedGdtEntry || selector == XenSelectors.FlatKernelCs || (selector & 4) != 0;

    /// <summary>Xen's validate_segdesc_page: all 512 descriptors must pass; fix-ups are written back as they are checked.</summary>
    public static bool ValidatePage(Span<byte> page)
    {
        for (int i = 0; i < 512; i++)
        {
            Span<byte> slot = page.Slice(i * 8, 8);
            ulong d = BinaryPrimitives.ReadUInt64LittleEndian(slot);
            if (!Check(ref d))
            {
                return false;
            }

            BinaryPrimitives.WriteUInt64LittleEndian(slot, d);
        }

        return true;
    }
}
