using XenSharp.Abi;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Pv;

/// <summary>
/// Translates guest virtual addresses the way the guest kernel (running at CPL 3) sees them, through its own page
/// tables: every level must be present and user-accessible, and writable for a write. Every table and target frame
/// must belong to the domain; the one exception is reading the read-only M2P, which belongs to Xen.
/// </summary>
internal static class GuestPageWalker
{
    public static bool IsCanonical(ulong va) => (ulong)((long)(va << 16) >> 16) == va;

    public static bool TryTranslate(MachinePool pool, ushort domid, Mfn l4, ulong va, bool write, out ulong machineAddress)
    {
        machineAddress = 0;
        if (!IsCanonical(va))
        {
            return false;
        }

        Mfn table = l4;
        for (int level = 4; level >= 1; level--)
        {
            if (!pool.Frames.Contains(table) || pool.Frames[table].Owner != domid && !IsXenReadOnly(pool, table, write))
            {
                return false;
            }

            int index = (int)((va >> (12 + (9 * (level - 1)))) & 511);
            ulong entry = pool.FrameAsEntries(table)[index];
            if ((entry & PageTableFlags.Present) == 0 || (entry & PageTableFlags.User) == 0)
            {
                return false;
            }

            if (write && (entry & PageTableFlags.Writable) == 0)
            {
                return false;
            }

            Mfn next = Mfn.FromAddress(entry & PageTableFlags.AddressMask);
            if (level == 2 && (entry & PageTableFlags.PageSize) != 0)
            {
                // Only the hypervisor's M2P mapping uses large pages; guests' own tables may not.
                ulong large = (entry & PageTableFlags.AddressMask & ~0x1fffffUL) + (va & 0x1fffff);
                Mfn target = Mfn.FromAddress(large);
                if (write || !pool.M2p.Contains(target))
                {
                    return false;
                }

                machineAddress = large;
                return true;
            }

            if (level == 1)
            {
                if (!pool.Frames.Contains(next) || pool.Frames[next].Owner != domid)
                {
                    return false;
                }

                machineAddress = next.Address | (va & 0xfff);
                return true;
            }

            table = next;
        }

        return false;
    }

    private static bool IsXenReadOnly(MachinePool pool, Mfn table, bool write) =>
        !write && pool.Frames[table].Owner == FrameOwner.Xen;
}
