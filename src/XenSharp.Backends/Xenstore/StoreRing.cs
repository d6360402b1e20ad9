using System.Runtime.InteropServices;
using XenSharp.Abi;
using XenSharp.Hypervisor.Dom0;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// A guest's end of the store: the two byte rings of its xenstore page (docs/misc/xenstore-ring.txt) and its event
/// channel. Every field of the page is the guest's to scribble on, so each call reads the indexes once, checks that
/// prod − cons (unsigned, free-running) is at most the ring size, copies at most what that allows with wrap-around, and
/// publishes the new index after the data (Volatile.Write, a release store). Indexes that jump are
/// <see cref="XenstoreLayout.ErrorRingIdx"/>; a page the guest no longer owns is <see cref="XenstoreLayout.ErrorComm"/>.
/// Nothing here loops on guest data or throws on it. Callers hold the store's lock; the page is opened inside.
/// </summary>
internal sealed class StoreRing : IStoreTransport
{
    private readonly IStorePage _page;
    private readonly Action _notify;
    private readonly bool _reportErrors;

    public StoreRing(IStorePage page, Action notify, uint features)
    {
        _page = page;
        _notify = notify;
        _reportErrors = (features & XenstoreLayout.FeatureError) != 0;
    }

    /// <summary>Writes the server features and, if the guest asked to reconnect, marks the ring connected (as on XS_INTRODUCE).</summary>
    public void Connect(uint features)
    {
        using (PageAccess a = _page.Open())
        {
            if (!a.IsPresent)
            {
                return;
            }

            Span<byte> p = a.Bytes;
            Volatile.Write(ref Field(p, XenstoreLayout.ServerFeatures), features);
            ref uint connection = ref Field(p, XenstoreLayout.Connection);
            if (Volatile.Read(ref connection) == XenstoreLayout.Reconnect)
            {
                Volatile.Write(ref connection, XenstoreLayout.Connected);
            }
        }
    }

    public int Read(Span<byte> buffer)
    {
        using (PageAccess a = _page.Open())
        {
            if (!a.IsPresent)
            {
                return -(int)XenstoreLayout.ErrorComm;
            }

            Span<byte> p = a.Bytes;
            ref uint consRef = ref Field(p, XenstoreLayout.ReqCons);
            uint cons = Volatile.Read(ref consRef);
            uint prod = Volatile.Read(ref Field(p, XenstoreLayout.ReqProd)); // the data is read after the index
            uint avail = prod - cons;
            if (avail > XenstoreLayout.RingSize)
            {
                return -(int)XenstoreLayout.ErrorRingIdx;
            }

            int n = (int)Math.Min(avail, (uint)buffer.Length);
            for (int i = 0; i < n; i++)
            {
                buffer[i] = p[XenstoreLayout.Req + (int)((cons + (uint)i) & (XenstoreLayout.RingSize - 1))];
            }

            Volatile.Write(ref consRef, cons + (uint)n);
            return n;
        }
    }

    public int Write(ReadOnlySpan<byte> bytes)
    {
        using (PageAccess a = _page.Open())
        {
            if (!a.IsPresent)
            {
                return -(int)XenstoreLayout.ErrorComm;
            }

            Span<byte> p = a.Bytes;
            uint cons = Volatile.Read(ref Field(p, XenstoreLayout.RspCons));
            ref uint prodRef = ref Field(p, XenstoreLayout.RspProd);
            uint prod = Volatile.Read(ref prodRef);
            uint used = prod - cons;
            if (used > XenstoreLayout.RingSize)
            {
                return -(int)XenstoreLayout.ErrorRingIdx;
            }

            int n = (int)Math.Min(XenstoreLayout.RingSize - used, (uint)bytes.Length);
            for (int i = 0; i < n; i++)
            {
                p[XenstoreLayout.Rsp + (int)((prod + (uint)i) & (XenstoreLayout.RingSize - 1))] = bytes[i];
            }

            Volatile.Write(ref prodRef, prod + (uint)n); // the bytes are visible before the index
            return n;
        }
    }

    public void Notify() => _notify();

    public void Break(uint error)
    {
        if (!_reportErrors)
        {
            return;
        }

        using (PageAccess a = _page.Open())
        {
            if (a.IsPresent)
            {
                Volatile.Write(ref Field(a.Bytes, XenstoreLayout.Error), error);
            }
        }
    }

    private static ref uint Field(Span<byte> page, int offset) =>
        ref MemoryMarshal.Cast<byte, uint>(page.Slice(offset, sizeof(uint)))[0];
}
