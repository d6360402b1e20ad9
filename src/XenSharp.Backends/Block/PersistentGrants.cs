using XenSharp.Hypervisor.Dom0;

namespace XenSharp.Backends.Block;

/// <summary>
/// One ring's persistently mapped grants (blkif.h feature-persistent; xen-blkback's persistent-grant tree per ring):
/// a frontend that negotiated it reuses the same grants for all requests, so the backend maps each once, writable
/// (blkif.h note 8: a grant used for a write now may carry a read later), and keeps it until the ring disconnects.
/// <para>
/// Invariants: at most <see cref="Capacity"/> mappings, one per grant reference, each owned here (disposed by
/// <see cref="Purge"/> or <see cref="Dispose"/>, never by a request); a least-recently-used order over them, an intrusive
/// list over fixed arrays; once constructed, nothing here allocates (the index is sized for the capacity). Used only on
/// the device's loop, between requests (no request holds a mapping while it is purged).
/// </para>
/// </summary>
internal sealed class PersistentGrants : IDisposable
{
    /// <summary>Linux xen-blkback's LRU_PERCENT_CLEAN: how much of the capacity a purge frees once it overflowed.</summary>
    public const int PurgePercent = 5;

    private const int None = -1;

    private readonly Dictionary<uint, int> _index;
    private readonly HostGrantMapping?[] _maps;
    private readonly uint[] _grefs;
    private readonly int[] _newer;
    private readonly int[] _older;
    private int _newest = None;
    private int _oldest = None;
    private int _free;

    public PersistentGrants(int capacity)
    {
        Capacity = capacity;
        _index = new Dictionary<uint, int>(capacity);
        _maps = new HostGrantMapping?[capacity];
        _grefs = new uint[capacity];
        _newer = new int[capacity];
        _older = new int[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _older[i] = i + 1 < capacity ? i + 1 : None; // the free list runs through _older
        }

        _free = capacity > 0 ? 0 : None;
    }

    public int Capacity { get; }

    public int Count => _index.Count;

    /// <summary>Whether a grant found no room since the last purge (xen-blkback's overflow_max_grants).</summary>
    public bool Overflowed { get; private set; }

    /// <summary>The kept mapping of <paramref name="gref"/> (now the most recently used), or null.</summary>
    public HostGrantMapping? Find(uint gref)
    {
        if (!_index.TryGetValue(gref, out int slot))
        {
            return null;
        }

        Unlink(slot);
        LinkNewest(slot);
        return _maps[slot];
    }

    /// <summary>Whether another grant can be kept; false marks the overflow that the next <see cref="Purge"/> answers.</summary>
    public bool HasRoom()
    {
        if (_free != None)
        {
            return true;
        }

        Overflowed = true;
        return false;
    }

    /// <summary>Keeps <paramref name="mapping"/> (a grant not kept yet; <see cref="HasRoom"/> said yes) as the most recently used.</summary>
    public void Add(HostGrantMapping mapping)
    {
        int slot = _free;
        _free = _older[slot];
        _maps[slot] = mapping;
        _grefs[slot] = mapping.Ref;
        _index.Add(mapping.Ref, slot);
        LinkNewest(slot);
    }

    /// <summary>
    /// After an overflow, unmaps the least recently used <see cref="PurgePercent"/> % of the capacity (at least one) so
    /// that grants the frontend uses now can be kept; otherwise nothing. The number unmapped.
    /// </summary>
    public int Purge()
    {
        if (!Overflowed)
        {
            return 0;
        }

        Overflowed = false;
        int n = Math.Min(Count, Math.Max(1, Capacity / 100 * PurgePercent));
        for (int i = 0; i < n; i++)
        {
            Drop(_oldest);
        }

        return n;
    }

    /// <summary>Unmaps every kept grant (the ring disconnects).</summary>
    public void Dispose()
    {
        while (_oldest != None)
        {
            Drop(_oldest);
        }

        Overflowed = false;
    }

    private void Drop(int slot)
    {
        Unlink(slot);
        _index.Remove(_grefs[slot]);
        HostGrantMapping? m = _maps[slot];
        _maps[slot] = null;
        _older[slot] = _free;
        _free = slot;
        m?.Dispose();
    }

    private void LinkNewest(int slot)
    {
        _older[slot] = _newest;
        _newer[slot] = None;
        if (_newest != None)
        {
            _newer[_newest] = slot;
        }

        _newest = slot;
        if (_oldest == None)
        {
            _oldest = slot;
        }
    }

    private void Unlink(int slot)
    {
        int newer = _newer[slot];
        int older = _older[slot];
        if (newer != None)
        {
            _older[newer] = older;
        }
        else
        {
            _newest = older;
        }

        if (older != None)
        {
            _newer[older] = newer;
        }
        else
        {
            _oldest = newer;
        }
    }
}
