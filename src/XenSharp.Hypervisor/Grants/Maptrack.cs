namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// A domain's grant mappings, indexed by the handles map_grant_ref returns (Xen's maptrack table). Handles are
/// allocated a page's worth (<see cref="HandlesPerFrame"/>) at a time up to <see cref="MaxHandles"/>, and reused in
/// the order they were freed, so a stale handle a guest kept stays invalid for as long as possible.
/// <para>
/// Invariants: every handle below <see cref="Limit"/> is free (in the free queue, entry <c>default</c>), in use (its
/// entry's <see cref="MaptrackEntry.InUse"/>), or allocated to a map in progress (neither; an unmap of it is
/// GNTST_bad_handle) — never free and in use at once. <see cref="Lock"/> is a leaf lock: nothing else is
/// taken while it is held. Entries are changed only by the granter's grant-table operations under that table's lock
/// (GrantMapping), so a reader that re-reads an entry under the granter's lock sees it stable.
/// </para>
/// </summary>
internal sealed class Maptrack
{
    /// <summary>PAGE_SIZE / sizeof(struct grant_mapping): Xen grows the table one page at a time.</summary>
    public const int HandlesPerFrame = 4096 / 16;

    /// <summary>Xen's default max_maptrack_frames (1024) pages of handles.</summary>
    public const uint DefaultMaxHandles = 1024 * HandlesPerFrame;

    private readonly List<MaptrackEntry> _entries = new();
    private readonly Queue<uint> _free = new();

    public Maptrack(uint maxHandles = DefaultMaxHandles)
    {
        MaxHandles = maxHandles;
    }

    public uint MaxHandles { get; }

    public object Lock { get; } = new();

    /// <summary>Handles allocated so far (Xen's maptrack_limit): a handle at or past it is GNTST_bad_handle.</summary>
    public uint Limit
    {
        get
        {
            lock (Lock)
            {
                return (uint)_entries.Count;
            }
        }
    }

    /// <summary>How many handles are in use.</summary>
    public int InUse
    {
        get
        {
            lock (Lock)
            {
                return _entries.Count - _free.Count;
            }
        }
    }

    /// <summary>Takes a free handle, growing the table by a page when none is left; false when the table is full.</summary>
    public bool TryAllocate(out uint handle)
    {
        lock (Lock)
        {
            if (_free.Count == 0)
            {
                uint first = (uint)_entries.Count;
                uint grow = Math.Min(HandlesPerFrame, MaxHandles - first);
                for (uint i = 0; i < grow; i++)
                {
                    _entries.Add(default);
                    _free.Enqueue(first + i);
                }
            }

            return _free.TryDequeue(out handle);
        }
    }

    /// <summary>The entry of <paramref name="handle"/>; false for a handle past <see cref="Limit"/>.</summary>
    public bool TryGet(uint handle, out MaptrackEntry entry)
    {
        lock (Lock)
        {
            if (handle >= (uint)_entries.Count)
            {
                entry = default;
                return false;
            }

            entry = _entries[(int)handle];
            return true;
        }
    }

    /// <summary>Sets an allocated handle's entry (flags last in Xen; here the lock orders it).</summary>
    public void Set(uint handle, MaptrackEntry entry)
    {
        lock (Lock)
        {
            _entries[(int)handle] = entry;
        }
    }

    /// <summary>Returns a handle to the free queue; its entry is cleared.</summary>
    public void Free(uint handle)
    {
        lock (Lock)
        {
            _entries[(int)handle] = default;
            _free.Enqueue(handle);
        }
    }

    /// <summary>The handles in use, with their entries, for releasing them all when the domain dies.</summary>
    public List<(uint Handle, MaptrackEntry Entry)> Live()
    {
        lock (Lock)
        {
            var live = new List<(uint, MaptrackEntry)>();
            for (int i = 0; i < _entries.Count; i++)
            {
                if (_entries[i].InUse)
                {
                    live.Add(((uint)i, _entries[i]));
                }
            }

            return live;
        }
    }
}
