using System.Runtime.InteropServices;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// The active entries (Xen's active_grant_entry array) and the GTF_reading/GTF_writing flags that tell the granting
/// guest its entry is in use: in the entry's own flags with v1, in the status frames with v2.
/// <para>
/// Invariants, under <see cref="Lock"/>: a ref has an <see cref="ActiveGrant"/> exactly while its pin is non-zero;
/// while it has one, the entry's status shows GTF_reading, and GTF_writing as long as a writable pin is held. Flags are
/// changed with atomic read-modify-writes because the guest writes the same words at any time (a v1 entry's flags live
/// next to the fields the guest owns); a guest that keeps racing the update makes the map fail (Xen's five retries).
/// </para>
/// </summary>
internal sealed partial class GrantTable
{
    private readonly Dictionary<uint, ActiveGrant> _active = new();

    /// <summary>How many entries are pinned (for tests and diagnostics).</summary>
    public int PinnedEntries
    {
        get
        {
            lock (Lock)
            {
                return _active.Count;
            }
        }
    }

    /// <summary>The active entry of <paramref name="gref"/>, or null when nothing maps it. Caller holds <see cref="Lock"/>.</summary>
    internal ActiveGrant? ActiveEntry(uint gref) => _active.GetValueOrDefault(gref);

    /// <summary>Records a newly pinned entry. Caller holds <see cref="Lock"/>.</summary>
    internal void Activate(uint gref, ActiveGrant act) => _active[gref] = act;

    /// <summary>Forgets an entry whose pin dropped to 0. Caller holds <see cref="Lock"/>.</summary>
    internal void Deactivate(uint gref) => _active.Remove(gref);

    private bool AnyPinnedFrom(uint firstRef)
    {
        foreach (uint gref in _active.Keys)
        {
            if (gref >= firstRef)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Xen's _set_status for a mapping by <paramref name="mapper"/>: unless the entry is already pinned, it must be a
    /// full-page GTF_permit_access entry naming the mapper; a writable use needs it not GTF_readonly. Sets GTF_reading
    /// (and GTF_writing). Returns GNTST_okay or GNTST_general_error with the reason. Caller holds <see cref="Lock"/> and
    /// has checked the ref's bounds.
    /// </summary>
    internal short SetStatus(uint gref, bool pinned, bool readOnly, ushort mapper, out string? reason)
    {
        reason = null;
        const ushort mask = GtfTypeMask | GtfSubPage;
        ref uint header = ref MemoryMarshal.Cast<byte, uint>(EntryBytes(gref))[0];
        uint seen = Volatile.Read(ref header);
        if (Version == 1)
        {
            for (int retries = 0; ; retries++)
            {
                ushort flags = (ushort)seen;
                if (!pinned && ((flags & mask) != GtfPermitAccess || (ushort)(seen >> 16) != mapper))
                {
                    reason = $"bad flags ({flags:x}) or dom ({seen >> 16}) in ref {gref:x}; expected d{mapper}";
                    return GeneralError;
                }

                if (!readOnly && (flags & GtfReadonly) != 0)
                {
                    reason = $"attempt to write-pin r/o grant ref {gref:x}";
                    return GeneralError;
                }

                uint wanted = seen | GtfReading | (readOnly ? 0u : GtfWriting);
                uint prev = Interlocked.CompareExchange(ref header, wanted, seen);
                if (prev == seen)
                {
                    return Okay;
                }

                if (retries == 4)
                {
                    reason = $"shared grant entry {gref:x} is unstable";
                    return GeneralError;
                }

                seen = prev;
            }
        }

        // v2: the status word is the hypervisor's; set it, then re-check the entry the guest may have changed meanwhile.
        bool Bad(uint h) => (((ushort)h & mask) != GtfPermitAccess) || (ushort)(h >> 16) != mapper;
        if (!pinned && Bad(seen))
        {
            reason = $"bad flags ({(ushort)seen:x}) or dom ({seen >> 16}) in ref {gref:x}; expected d{mapper}";
            return GeneralError;
        }

        if (!readOnly && (seen & GtfReadonly) != 0)
        {
            reason = $"attempt to write-pin r/o grant ref {gref:x}";
            return GeneralError;
        }

        ulong status = StatusAddress(gref);
        SetFlags(status, (ushort)(GtfReading | (readOnly ? 0 : GtfWriting)));
        Interlocked.MemoryBarrier();
        seen = Volatile.Read(ref header);
        if (!pinned && (Bad(seen) || (!readOnly && (seen & GtfReadonly) != 0)))
        {
            ClearFlags(status, GtfReading | GtfWriting);
            reason = $"unstable flags ({(ushort)seen:x}) or dom ({seen >> 16}) in ref {gref:x}; expected d{mapper}";
            return GeneralError;
        }

        if (pinned && (seen & GtfReadonly) != 0)
        {
            ClearFlags(status, GtfWriting);
            reason = $"unstable readonly flag in ref {gref:x}";
            return GeneralError;
        }

        return Okay;
    }

    /// <summary>
    /// Xen's reduce_status_for_pin: after a mapping of <paramref name="gref"/> went (or failed), the status keeps only
    /// what the remaining <paramref name="pin"/> needs — GTF_reading while pinned at all, GTF_writing while a writable pin
    /// is held. Caller holds <see cref="Lock"/>.
    /// </summary>
    internal void ReduceStatusForPin(uint gref, uint pin, bool readOnly)
    {
        ushort clear = pin != 0 ? (ushort)0 : GtfReading;
        if (!readOnly && (pin & GrantPin.WriteMask) == 0)
        {
            clear |= GtfWriting;
        }

        if (clear == 0 || IsDead || gref >= NrEntries)
        {
            return; // the frames are gone, or a version change shrank the table (only reserved entries are still in range)
        }

        ClearFlags(Version == 1 ? EntryAddress(gref) : StatusAddress(gref), clear);
    }

    /// <summary>
    /// ORs <paramref name="bits"/> into the 16-bit word at machine address <paramref name="address"/> (2-byte aligned)
    /// with one locked OR on the aligned 32-bit word holding it: the other half is not changed, whatever the guest
    /// writes there meanwhile.
    /// </summary>
    private void SetFlags(ulong address, ushort bits) =>
        Interlocked.Or(ref Word32(address), (uint)bits << (int)((address & 2) * 8));

    /// <summary>Xen's gnttab_clear_flags: one locked AND confined to the 16-bit word at <paramref name="address"/>.</summary>
    private void ClearFlags(ulong address, ushort bits) =>
        Interlocked.And(ref Word32(address), ~((uint)bits << (int)((address & 2) * 8)));

    private ref uint Word32(ulong address) => ref MemoryMarshal.Cast<byte, uint>(_domain.Pool.Memory.GetSpan(address & ~3UL, 4))[0];
}
