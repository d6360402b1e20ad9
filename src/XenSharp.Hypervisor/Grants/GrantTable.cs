using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// One domain's grant table (xen/common/grant_table.c): the shared frames the guest writes its grant entries into, the
/// v2 status frames, and the version in effect. A PV guest learns the frames' MFNs from GNTTABOP_setup_table and
/// GNTTABOP_get_status_frames and maps them itself (update_va_mapping / mmu_update).
/// <para>
/// Frames: a domain's KVM memory slots are fixed when it starts, so every frame the table can ever use
/// (<see cref="MaxGrantFrames"/> shared + <see cref="MaxStatusFrames"/> status) is reserved with the domain as one
/// extent owned by Xen, and freed with the domain's other extents. Growing the table hands frames to the domain the
/// way Xen's share_xen_page_with_guest does; dropping the status frames (v2 → v1) takes them back.
/// </para>
/// <para>Invariants:</para>
/// <list type="number">
/// <item>Shared frames [0, <see cref="NrGrantFrames"/>) and status frames [0, <see cref="NrStatusFrames"/>) are owned by
/// the domain and hold one permanent general reference and one permanent Writable type reference (Xen's allocation
/// reference and PGT_writable_page count of 1): the guest may map them, read-only or writable, but they can never be
/// validated as page tables or descriptor pages, pinned, or given back with decrease_reservation. Their M2P entries
/// are invalid.</item>
/// <item>Every other frame of <see cref="Frames"/> is owned by Xen and reads as zero, so a frame handed out is always
/// zeroed, like Xen's clear_page on allocation.</item>
/// <item><see cref="NrStatusFrames"/> is <see cref="StatusFramesFor"/>(<see cref="NrGrantFrames"/>) with version 2 and 0
/// with version 1. The shared table never shrinks (Xen's does not), so an MFN once reported stays valid.</item>
/// <item>An entry is pinned (has an <see cref="ActiveGrant"/>) exactly while some mapping made through
/// <see cref="GrantMapping"/> uses it; a pinned entry is never swapped, and the version changes only while no entry
/// beyond the reserved ones is pinned (GrantTable.Active.cs). <see cref="Maptrack"/> holds the mappings this domain
/// made, of its own grants or another domain's.</item>
/// </list>
/// Locking: <see cref="Lock"/> for the table, then the domain's MMU lock for frame ownership and reference changes (the
/// validator must see them atomically: XSA-255 is a check-then-free race), then the pool lock. Errors are negative
/// Xen errno values or GNTST_* statuses, as each method says.
/// </summary>
internal sealed partial class GrantTable
{
    /// <summary>
    /// Xen's max_grant_frames for a domU: the hypervisor default opt_max_grant_frames (64, "gnttab_max_frames="),
    /// which libxl passes on when the guest config sets no max_grant_frames. 64 v1 frames are 32768 grant entries.
    /// </summary>
    public const uint MaxGrantFrames = 64;

    /// <summary>INITIAL_NR_GRANT_FRAMES (x86): every domain starts with one shared frame.</summary>
    public const uint InitialGrantFrames = 1;

    public const int EntriesPerFrameV1 = Mfn.PageSize / EntryV1Size;
    public const int EntriesPerFrameV2 = Mfn.PageSize / EntryV2Size;
    public const int StatusEntriesPerFrame = Mfn.PageSize / StatusEntrySize;

    /// <summary>grant_to_status_frames(MaxGrantFrames): status frames for a full v2 table.</summary>
    public const uint MaxStatusFrames = ((MaxGrantFrames * EntriesPerFrameV2) + StatusEntriesPerFrame - 1) / StatusEntriesPerFrame;

    private readonly Domain _domain;

    public GrantTable(Domain domain)
    {
        _domain = domain;
        Frames = domain.Pool.Allocate(MaxGrantFrames + MaxStatusFrames, FrameOwner.Xen)
            ?? throw new OutOfPoolException(MaxGrantFrames + MaxStatusFrames);
        lock (Lock)
        {
            Grow(InitialGrantFrames);
        }
    }

    /// <summary>Every frame the table may use, shared frames first; freed with the domain's extents.</summary>
    public Extent Frames { get; }

    /// <summary>The grant mappings this domain holds (its handles), whoever granted them.</summary>
    public Maptrack Maptrack { get; } = new();

    public object Lock { get; } = new();

    /// <summary>
    /// Set (under <see cref="Lock"/>) when the domain is destroyed: nothing of its table is mapped any more, and its
    /// frames are gone, so no entry status is written either. Mappings other domains still hold are only taken down.
    /// </summary>
    public bool IsDead { get; private set; }

    /// <summary>
    /// The table's part of destroying the domain: no more mappings of its grants, and the mappings it holds of other
    /// domains' grants are released (GrantMapping.ReleaseAll). Its own frames are freed with the domain's extents.
    /// </summary>
    public void Destroy()
    {
        lock (Lock)
        {
            IsDead = true;
        }

        GrantMapping.ReleaseAll(_domain);
    }

    /// <summary>The grant-table version in effect: 1 (the default) or 2.</summary>
    public uint Version { get; private set; } = 1;

    public uint NrGrantFrames { get; private set; }

    public uint NrStatusFrames { get; private set; }

    /// <summary>nr_grant_entries: how many refs the shared frames hold in the current version.</summary>
    public uint NrEntries => NrGrantFrames * (uint)(Version == 1 ? EntriesPerFrameV1 : EntriesPerFrameV2);

    /// <summary>grant_to_status_frames: status frames that cover the v2 entries of <paramref name="grantFrames"/> shared frames.</summary>
    public static uint StatusFramesFor(uint grantFrames) =>
        (uint)((((ulong)grantFrames * EntriesPerFrameV2) + StatusEntriesPerFrame - 1) / StatusEntriesPerFrame);

    public Mfn SharedFrame(uint index) =>
        index < MaxGrantFrames ? Frames.First.Add(index) : throw new ArgumentOutOfRangeException(nameof(index));

    public Mfn StatusFrame(uint index) =>
        index < MaxStatusFrames ? Frames.First.Add(MaxGrantFrames + index) : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>
    /// The table part of GNTTABOP_setup_table: grows the table to at least <paramref name="nrFrames"/> shared frames
    /// (and, with v2, the status frames that cover them). GNTST_general_error beyond <see cref="MaxGrantFrames"/>.
    /// The caller reports <see cref="SharedFrame"/>(0 .. nrFrames-1).
    /// </summary>
    public short Setup(uint nrFrames)
    {
        lock (Lock)
        {
            if (nrFrames > MaxGrantFrames)
            {
                _domain.Log.Limited($"d{_domain.Id}-gnttab-max", $"(d{_domain.Id}) is limited to {MaxGrantFrames} grant-table frames (asked {nrFrames})");
                return GeneralError;
            }

            if (nrFrames > NrGrantFrames || (Version == 2 && StatusFramesFor(nrFrames) > NrStatusFrames))
            {
                Grow(nrFrames);
            }

            return Okay;
        }
    }

    /// <summary>
    /// GNTTABOP_set_version: 0 on success (also when <paramref name="version"/> is already in effect), -EINVAL for a
    /// version other than 1 or 2, -ERANGE when a reserved v2 entry (0–7) cannot be expressed in v1, -EBUSY when a
    /// status frame is still referenced (mapped) by the guest (XSA-255). The reserved entries survive the change,
    /// converted; every other entry is cleared.
    /// </summary>
    public int SetVersion(uint version)
    {
        if (version is not (1 or 2))
        {
            return -XenErrno.EINVAL;
        }

        lock (Lock)
        {
            if (version == Version)
            {
                return 0;
            }

            // The toolstack's reserved entries may stay mapped across the change (their status moves with them);
            // any other entry in use blocks it.
            if (AnyPinnedFrom(ReservedEntries))
            {
                _domain.Log.Limited($"d{_domain.Id}-gnttab-ver-busy", $"(d{_domain.Id}) grant table version change refused: entries still in use");
                return -XenErrno.EBUSY;
            }

            if (Version == 2)
            {
                for (uint i = 0; i < ReservedEntries; i++)
                {
                    ReadOnlySpan<byte> e = EntryBytes(i);
                    int type = BinaryPrimitives.ReadUInt16LittleEndian(e) & GtfTypeMask;
                    if (type == GtfTransitive || (type == GtfPermitAccess && (BinaryPrimitives.ReadUInt64LittleEndian(e[8..]) >> 32) != 0))
                    {
                        return -XenErrno.ERANGE; // "non-representable entries"
                    }
                }
            }

            // Keep the toolstack's reserved entries, in v1 form.
            Span<byte> reserved = stackalloc byte[(int)ReservedEntries * EntryV1Size];
            for (uint i = 0; i < ReservedEntries; i++)
            {
                Span<byte> r = reserved.Slice((int)i * EntryV1Size, EntryV1Size);
                ReadOnlySpan<byte> e = EntryBytes(i);
                if (Version == 1)
                {
                    e.CopyTo(r);
                    continue;
                }

                ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(e);
                if ((flags & GtfTypeMask) == GtfPermitAccess)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(r, (ushort)(flags | StatusEntry(i)));
                    BinaryPrimitives.WriteUInt16LittleEndian(r[2..], BinaryPrimitives.ReadUInt16LittleEndian(e[2..]));
                    BinaryPrimitives.WriteUInt32LittleEndian(r[4..], (uint)BinaryPrimitives.ReadUInt64LittleEndian(e[8..]));
                }
                else
                {
                    r.Clear(); // invalid, or a type v1 cannot carry here: dropped as Xen does
                }
            }

            if (Version == 1)
            {
                ShareStatusFrames(StatusFramesFor(NrGrantFrames));
            }
            else if (!TryUnshareStatusFrames())
            {
                _domain.Log.Limited($"d{_domain.Id}-gnttab-v1-busy", $"(d{_domain.Id}) grant table v2 -> v1 refused: a status frame is still mapped");
                return -XenErrno.EBUSY;
            }

            MachinePool pool = _domain.Pool;
            for (uint i = 0; i < NrGrantFrames; i++)
            {
                pool.Frame(SharedFrame(i)).Clear();
            }

            Version = version;
            for (uint i = 0; i < ReservedEntries; i++)
            {
                ReadOnlySpan<byte> r = reserved.Slice((int)i * EntryV1Size, EntryV1Size);
                Span<byte> e = EntryBytes(i);
                if (version == 1)
                {
                    r.CopyTo(e);
                    continue;
                }

                ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(r);
                StatusEntry(i) = (ushort)(flags & (GtfReading | GtfWriting));
                BinaryPrimitives.WriteUInt16LittleEndian(e, (ushort)(flags & ~(GtfReading | GtfWriting)));
                BinaryPrimitives.WriteUInt16LittleEndian(e[2..], BinaryPrimitives.ReadUInt16LittleEndian(r[2..]));
                BinaryPrimitives.WriteUInt64LittleEndian(e[8..], BinaryPrimitives.ReadUInt32LittleEndian(r[4..]));
            }

            return 0;
        }
    }

    /// <summary>
    /// Reads entry <paramref name="gref"/>'s header (flags and domid as one 32-bit read, like Xen's grant_combo) and its
    /// full-page frame. False when the ref is beyond the table. The guest may change the entry at any time.
    /// </summary>
    public bool TryReadEntry(uint gref, out ushort flags, out ushort domid, out ulong frame)
    {
        lock (Lock)
        {
            flags = 0;
            domid = 0;
            frame = 0;
            if (gref >= NrEntries)
            {
                return false;
            }

            ReadOnlySpan<byte> e = EntryBytes(gref);
            uint header = BinaryPrimitives.ReadUInt32LittleEndian(e);
            flags = (ushort)header;
            domid = (ushort)(header >> 16);
            frame = Version == 1 ? BinaryPrimitives.ReadUInt32LittleEndian(e[4..]) : BinaryPrimitives.ReadUInt64LittleEndian(e[8..]);
            return true;
        }
    }

    /// <summary>GNTTABOP_swap_grant_ref on the domain's own table: GNTST_bad_gntref for a ref beyond the table.</summary>
    public short Swap(uint a, uint b)
    {
        lock (Lock)
        {
            if (a >= NrEntries || b >= NrEntries)
            {
                return BadGntref;
            }

            if (a == b)
            {
                return Okay;
            }

            if (_active.ContainsKey(a) || _active.ContainsKey(b))
            {
                return Eagain; // an entry in use keeps its place
            }

            Span<byte> ea = EntryBytes(a);
            Span<byte> eb = EntryBytes(b);
            Span<byte> t = stackalloc byte[ea.Length];
            ea.CopyTo(t);
            eb.CopyTo(ea);
            t.CopyTo(eb);
            if (Version == 2)
            {
                (StatusEntry(a), StatusEntry(b)) = (StatusEntry(b), StatusEntry(a));
            }

            return Okay;
        }
    }

    private Span<byte> EntryBytes(uint gref) => _domain.Pool.Memory.GetSpan(EntryAddress(gref), Version == 1 ? EntryV1Size : EntryV2Size);

    /// <summary>Machine address of entry <paramref name="gref"/> in the current version's layout.</summary>
    private ulong EntryAddress(uint gref)
    {
        int size = Version == 1 ? EntryV1Size : EntryV2Size;
        uint perFrame = (uint)(Mfn.PageSize / size);
        return SharedFrame(gref / perFrame).Address + ((gref % perFrame) * (ulong)size);
    }

    /// <summary>Machine address of v2 status entry <paramref name="gref"/>.</summary>
    private ulong StatusAddress(uint gref) =>
        StatusFrame(gref / StatusEntriesPerFrame).Address + ((gref % StatusEntriesPerFrame) * (ulong)StatusEntrySize);

    private ref ushort StatusEntry(uint gref) =>
        ref System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(_domain.Pool.Memory.GetSpan(StatusAddress(gref), StatusEntrySize))[0];

    /// <summary>gnttab_grow_table: shares shared frames up to <paramref name="nrFrames"/> and, with v2, their status frames.</summary>
    private void Grow(uint nrFrames)
    {
        nrFrames = Math.Max(nrFrames, InitialGrantFrames);
        lock (_domain.Mmu.Lock)
        {
            for (uint i = NrGrantFrames; i < nrFrames; i++)
            {
                ShareWithGuest(SharedFrame(i));
            }

            NrGrantFrames = Math.Max(NrGrantFrames, nrFrames);
        }

        if (Version == 2)
        {
            ShareStatusFrames(StatusFramesFor(NrGrantFrames));
        }
    }

    private void ShareStatusFrames(uint count)
    {
        lock (_domain.Mmu.Lock)
        {
            for (uint i = NrStatusFrames; i < count; i++)
            {
                ShareWithGuest(StatusFrame(i));
            }

            NrStatusFrames = Math.Max(NrStatusFrames, count);
        }
    }

    /// <summary>
    /// gnttab_unpopulate_status_frames: every status frame must hold only the table's own references (no mapping, no
    /// pin); then all go back to Xen, zeroed. All or nothing. A stale TLB entry the guest kept after unmapping without a
    /// flush can only reach a frame that stays reserved for this domain's table until the domain is destroyed.
    /// </summary>
    private bool TryUnshareStatusFrames()
    {
        MachinePool pool = _domain.Pool;
        lock (_domain.Mmu.Lock)
        {
            for (uint i = 0; i < NrStatusFrames; i++)
            {
                FrameInfo f = pool.Frames[StatusFrame(i)];
                if (f.Owner != _domain.Id || f.RefCount != 1 || f.TypeCount != 1 || f.Pinned)
                {
                    return false;
                }
            }

            lock (pool.Lock)
            {
                for (uint i = 0; i < NrStatusFrames; i++)
                {
                    Mfn mfn = StatusFrame(i);
                    pool.Frames[mfn] = new FrameInfo { Owner = FrameOwner.Xen };
                    pool.Memory.Discard(mfn.Address, Mfn.PageSize);
                }
            }

            NrStatusFrames = 0;
            return true;
        }
    }

    /// <summary>share_xen_page_with_guest(SHARE_rw): zeroed, owned by the domain, pinned writable, no M2P entry.</summary>
    private void ShareWithGuest(Mfn mfn)
    {
        MachinePool pool = _domain.Pool;
        lock (pool.Lock)
        {
            pool.Memory.Discard(mfn.Address, Mfn.PageSize);
            pool.SetM2p(mfn, MachinePool.InvalidM2pEntry);
            pool.Frames[mfn] = new FrameInfo { Owner = _domain.Id, Type = PageType.Writable, TypeCount = 1, RefCount = 1 };
        }
    }
}
