using System.Runtime.InteropServices;
using XenSharp.Abi;
using XenSharp.Hypervisor.Dom0;

namespace XenSharp.Backends.Xenbus;

/// <summary>
/// A frontend's shared ring (io/ring.h) as a backend in domain 0 maps it: one or more granted pages, contiguous in the
/// frontend's view, so a slot may straddle two of them. The header's indices are read and written whole and in order
/// (a volatile access each); slots are copied out before a request is looked at, so a frontend rewriting a slot
/// meanwhile changes nothing the backend checked.
/// Invariant: every offset handed to the copy routines lies inside the ring (the slot index is masked), so no access
/// leaves the mapped pages whatever the indices hold.
/// </summary>
public sealed class GrantedRing : IDisposable
{
    private const int PageSize = 4096;
    private readonly HostGrantMapping[] _pages;

    private GrantedRing(HostGrantMapping[] pages, int slotSize)
    {
        _pages = pages;
        SlotSize = slotSize;
        Size = SharedRingLayout.Size(pages.Length * PageSize, slotSize);
    }

    /// <summary>Slots in the ring, a power of two.</summary>
    public uint Size { get; }

    public int SlotSize { get; }

    /// <summary>Maps <paramref name="refs"/> of <paramref name="domid"/> writable, in order; null with why not.</summary>
    public static GrantedRing? Map(HostGrants grants, ushort domid, IReadOnlyList<uint> refs, int slotSize, out string? error)
    {
        var pages = new HostGrantMapping[refs.Count];
        for (int i = 0; i < refs.Count; i++)
        {
            HostGrantMapping? m = grants.Map(domid, refs[i], readOnly: false, out short status);
            if (m is null)
            {
                foreach (HostGrantMapping mapped in pages.AsSpan(0, i))
                {
                    mapped.Dispose();
                }

                error = $"mapping ring page {i} (grant {refs[i]}): grant status {status}";
                return null;
            }

            pages[i] = m;
        }

        error = null;
        return new GrantedRing(pages, slotSize);
    }

    /// <summary>A header index (<see cref="SharedRingLayout"/>); 0 if the page is gone.</summary>
    public uint ReadIndex(int offset)
    {
        using PageAccess a = _pages[0].Open();
        return a.IsPresent ? Volatile.Read(ref Index(a.Bytes, offset)) : 0;
    }

    public void WriteIndex(int offset, uint value)
    {
        using PageAccess a = _pages[0].Open();
        if (a.IsPresent)
        {
            Volatile.Write(ref Index(a.Bytes, offset), value);
        }
    }

    /// <summary>Copies slot <paramref name="index"/> (masked) into <paramref name="into"/> (at most a slot).</summary>
    public void ReadSlot(uint index, Span<byte> into) => Copy(SlotOffset(index), into, default, toRing: false);

    /// <summary>Copies <paramref name="from"/> (at most a slot) into slot <paramref name="index"/> (masked).</summary>
    public void WriteSlot(uint index, ReadOnlySpan<byte> from) => Copy(SlotOffset(index), default, from, toRing: true);

    public void Dispose()
    {
        foreach (HostGrantMapping m in _pages)
        {
            m.Dispose();
        }
    }

    private long SlotOffset(uint index) => SharedRingLayout.Slots + ((long)(index & (Size - 1)) * SlotSize);

    private void Copy(long offset, Span<byte> into, ReadOnlySpan<byte> from, bool toRing)
    {
        int length = Math.Min(toRing ? from.Length : into.Length, SlotSize);
        int done = 0;
        while (done < length)
        {
            long at = offset + done;
            int page = (int)(at / PageSize);
            int within = (int)(at % PageSize);
            int n = Math.Min(length - done, PageSize - within);
            using (PageAccess a = _pages[page].Open())
            {
                if (!a.IsPresent)
                {
                    return;
                }

                if (toRing)
                {
                    from.Slice(done, n).CopyTo(a.Bytes.Slice(within, n));
                }
                else
                {
                    a.Bytes.Slice(within, n).CopyTo(into.Slice(done, n));
                }
            }

            done += n;
        }
    }

    private static ref uint Index(Span<byte> page, int offset) =>
        ref MemoryMarshal.Cast<byte, uint>(page.Slice(offset, sizeof(uint)))[0];
}
