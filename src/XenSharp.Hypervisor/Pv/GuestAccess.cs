using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Pv;

/// <summary>Copies between the host and a guest's virtual memory, page by page; any unmapped byte fails the whole copy (-EFAULT).</summary>
internal static class GuestAccess
{
    public static bool CopyFrom(MachinePool pool, ushort domid, Mfn l4, ulong va, Span<byte> destination)
    {
        int done = 0;
        while (done < destination.Length)
        {
            ulong addr = va + (ulong)done;
            if (addr < va || !GuestPageWalker.TryTranslate(pool, domid, l4, addr, write: false, out ulong ma))
            {
                return false;
            }

            int chunk = Math.Min(destination.Length - done, Mfn.PageSize - (int)(addr & 0xfff));
            pool.Memory.GetSpan(ma, chunk).CopyTo(destination[done..]);
            done += chunk;
        }

        return true;
    }

    public static bool CopyTo(MachinePool pool, ushort domid, Mfn l4, ulong va, ReadOnlySpan<byte> source)
    {
        // Translate every page first so a fault leaves guest memory untouched.
        for (int done = 0; done < source.Length;)
        {
            ulong addr = va + (ulong)done;
            if (addr < va || !GuestPageWalker.TryTranslate(pool, domid, l4, addr, write: true, out _))
            {
                return false;
            }

            done += Mfn.PageSize - (int)(addr & 0xfff);
        }

        for (int done = 0; done < source.Length;)
        {
            ulong addr = va + (ulong)done;
            GuestPageWalker.TryTranslate(pool, domid, l4, addr, write: true, out ulong ma);
            int chunk = Math.Min(source.Length - done, Mfn.PageSize - (int)(addr & 0xfff));
            source.Slice(done, chunk).CopyTo(pool.Memory.GetSpan(ma, chunk));
            done += chunk;
        }

        return true;
    }
}
