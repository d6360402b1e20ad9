using System.Buffers.Binary;
using System.Globalization;
using XenSharp.Abi;
using XenSharp.Backends.Xenbus;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Dom0;
using XenSharp.Hypervisor.Events;

namespace XenSharp.Backends.Block;

/// <summary>
/// blkback for one virtual block device: serves a frontend's blkif ring (io/blkif.h, x86_64 layout) from a
/// <see cref="BlockImage"/>, with read, write, write-barrier, flush-cache, discard and indirect requests, a ring of up
/// to 2^<see cref="MaxRingPageOrder"/> pages, and the feature nodes Linux's blkfront reads. The xenbus handshake is
/// <see cref="XenbusBackend"/>'s.
/// <para>
/// Durability: requests are served one after another; a write is answered only after pwrite returned for all its
/// segments, and a flush or barrier (with or without data) only after fdatasync, so everything answered before it is
/// on the medium too.
/// </para>
/// <para>
/// Hostile input, as blkback answers it: more requests published than the ring holds stops the device (xenbus fatal,
/// Closing); a bad segment count, a segment whose sectors leave its page, a sector range past the end of the image, a
/// grant that does not map, an indirect request for anything but read or write, or a write to a read-only image is
/// answered BLKIF_RSP_ERROR; an operation not offered is BLKIF_RSP_EOPNOTSUPP. Nothing a frontend writes throws out of
/// a pass; a pass answers at most one ring's worth of requests, then posts itself again.
/// </para>
/// <para>
/// Persistent grants (blkif.h feature-persistent), when the frontend writes feature-persistent 1 too: each ring keeps
/// up to <see cref="MaxPersistentGrants"/> grants mapped (writable, blkif.h note 8) from their first use until it
/// disconnects, so a reused grant is not mapped again; a grant beyond that is mapped for its request only, and at the
/// end of that pass the ring unmaps the least recently used 5 % to make room (<see cref="PersistentGrants"/>). Without
/// it, every grant is mapped for its request and unmapped after it.
/// </para>
/// <para>
/// Memory per device is bounded: one slot and one request's segment table and mappings
/// (<see cref="MaxIndirectSegments"/> each), the ring's pages, up to <see cref="MaxPersistentGrants"/> kept mappings per
/// ring, and no data buffer (I/O goes straight between the image and the granted pages). Threads: passes run on the
/// device's own <see cref="BackendLoop"/> (the event channel only posts; a poll interval picks up store watch events);
/// <see cref="_lock"/> serialises passes and dispose, which is
/// <see cref="XenbusDevice"/>'s, as for every split device (hot-unplug and a domain's end alike).
/// </para>
/// </summary>
public sealed class BlockBackend : IXenbusDriver, IEventSink, IDisposable
{
    /// <summary>max-ring-page-order offered: 16 pages, 512 requests (Linux blkback's default).</summary>
    public const int MaxRingPageOrder = 4;

    /// <summary>feature-max-indirect-segments offered (Linux blkback's MAX_INDIRECT_SEGMENTS): 1 MiB per request.</summary>
    public const int MaxIndirectSegments = 256;

    /// <summary>multi-queue-max-queues offered: rings a frontend may use at once, each under queue-N in its directory.</summary>
    public const int MaxQueues = 4;

    /// <summary>Grants kept mapped per ring with feature-persistent (Linux xen-blkback's max_persistent_grants default).</summary>
    public const int MaxPersistentGrants = 1056;

    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMilliseconds(10);

    private const int Eopnotsupp = 95;

    private readonly object _lock = new();
    private readonly XenHypervisor _hv;
    private readonly BlockImage _image;
    private readonly bool _discard;
    private readonly byte[] _slot = new byte[BlkifLayout.SlotSize];
    private readonly byte[] _response = new byte[BlkifLayout.ResponseSize];
    private readonly BlockSegment[] _segments = new BlockSegment[MaxIndirectSegments];
    private readonly HostGrantMapping?[] _maps = new HostGrantMapping?[MaxIndirectSegments];
    private readonly bool[] _kept = new bool[MaxIndirectSegments]; // _maps[i] belongs to the ring's persistent grants
    private XenbusDevice _device = null!;
    private XenbusBackend _xenbus = null!;
    private ushort _domid;
    private readonly List<BlockQueue> _queues = new();
    private bool _errorLogged;

    private BlockBackend(XenHypervisor hv, BlockImage image, bool discard)
    {
        _hv = hv;
        _image = image;
        _discard = discard && image.CanDiscard;
    }

    /// <summary>The handshake (its state is the backend's state node).</summary>
    public XenbusBackend Xenbus => _xenbus;

    /// <summary>Whether a ring is mapped and being served.</summary>
    public bool IsConnected => _queues.Count > 0;

    /// <summary>Rings being served: 1, or the frontend's multi-queue-num-queues.</summary>
    public int Queues => _queues.Count;

    /// <summary>The image served (tests read it back through the backend's own handle: it is locked against other opens).</summary>
    internal BlockImage Image => _image;

    /// <summary>Requests answered so far.</summary>
    public long Requests { get; private set; }

    /// <summary>Grant maps asked of domain 0's grant device so far (ring pages not counted).</summary>
    internal long GrantMaps { get; private set; }

    /// <summary>Whether the connected frontend negotiated feature-persistent.</summary>
    internal bool PersistentGrants => _queues.Count > 0 && _queues[0].Grants is not null;

    /// <summary>Grants kept mapped now, all rings together.</summary>
    internal int KeptGrants => _queues.Sum(q => q.Grants?.Count ?? 0);
    /// <summary>blkback's statistics (xentop's VBD columns).</summary>
    public BlockCounters Counters { get; } = new();

    /// <summary>
    /// Starts serving the device whose backend nodes the toolstack wrote at <paramref name="backendPath"/>: writes the
    /// feature nodes, goes to InitWait and follows the frontend from then on. Takes <paramref name="image"/> over (it
    /// is closed with the backend).
    /// </summary>
    public static BlockBackend Attach(XenHypervisor hv, XenStore store, string backendPath, BlockImage image, bool discard = true) =>
        Attach(hv, store, backendPath, image, discard, DefaultPollInterval, ownThread: true);

    /// <param name="ownThread">false (tests): no loop thread; passes run through <see cref="Service"/>.</param>
    internal static BlockBackend Attach(XenHypervisor hv, XenStore store, string backendPath, BlockImage image, bool discard, TimeSpan poll, bool ownThread)
    {
        var backend = new BlockBackend(hv, image, discard);
        XenbusDevice.Attach(store, backendPath, backend, hv.Log, backend._lock, backend.Pass, device =>
        {
            backend._device = device;
            backend._xenbus = device.Xenbus;
            backend._domid = device.Xenbus.FrontendId;
            return $"vbd d{backend._domid} {backendPath[(backendPath.LastIndexOf('/') + 1)..]}";
        }, poll, ownThread);
        return backend;
    }

    /// <summary>The frontend notified the device's event channel (its vCPU thread): wakes the loop, returns at once.</summary>
    public void Notify() => _device.Post();

    /// <summary>One pass: the store's watch events, then the ring. Any thread; serialised with the loop's passes.</summary>
    internal void Service() => _device.Pass();

    // A pass, under _lock (XenbusDevice.Pass).
    private void Pass()
    {
        try
        {
            _xenbus.Poll();
            for (int i = 0; i < _queues.Count && IsConnected; i++)
            {
                ServeRing(_queues[i]);
            }
        }
        catch (Exception e)
        {
            // Not the frontend's doing (its input is checked); still, the guest's vCPUs and other devices go on.
            if (!_errorLogged)
            {
                _errorLogged = true;
                _hv.Log.Domain(_domid, $"vbd {_xenbus.BackendPath}: {e.GetType().Name}: {e.Message}");
            }

            _xenbus.Fatal($"internal error: {e.GetType().Name}");
        }
    }

    void IXenbusDriver.Probe(XenbusBackend device, uint tx)
    {
        string be = device.BackendPath;
        bool rw = !_image.ReadOnly;
        var nodes = new List<(string, string)>
        {
            ("max-ring-page-order", Number(MaxRingPageOrder)),
            ("multi-queue-max-queues", Number(MaxQueues)),
            ("feature-max-indirect-segments", Number(MaxIndirectSegments)),
            ("feature-persistent", "1"),
            ("feature-flush-cache", rw ? "1" : "0"),
            ("feature-barrier", rw ? "1" : "0"),
            ("feature-discard", _discard ? "1" : "0"),
            ("sectors", Number(_image.Sectors)),
            ("info", Number(_image.ReadOnly ? BlkifLayout.VdiskReadonly : 0)),
            ("sector-size", Number(BlkifLayout.SectorSize)),
            ("physical-sector-size", Number(BlkifLayout.SectorSize)),
        };
        if (_discard)
        {
            nodes.Add(("discard-granularity", "4096"));
            nodes.Add(("discard-alignment", "0"));
            nodes.Add(("discard-secure", "0"));
        }

        foreach ((string key, string value) in nodes)
        {
            device.Store.Write($"{be}/{key}", value, tx);
        }
    }

    string? IXenbusDriver.Connect(XenbusBackend device)
    {
        XsClient xs = device.Store;
        string fe = device.FrontendPath;
        if (xs.Read($"{fe}/protocol") is { } protocol && protocol != BlkifLayout.Protocol)
        {
            return $"unsupported protocol '{protocol}' (only {BlkifLayout.Protocol})";
        }

        int queues = 1;
        string? queuesText = xs.Read($"{fe}/multi-queue-num-queues");
        if (queuesText is not null && (!int.TryParse(queuesText, NumberStyles.None, CultureInfo.InvariantCulture, out queues) || queues < 1 || queues > MaxQueues))
        {
            return $"multi-queue-num-queues '{queuesText}' is not from 1 to multi-queue-max-queues {MaxQueues}";
        }

        // blkif.h: the frontend's feature-persistent 1 says it reuses the same grants (and lets them be mapped writable).
        bool persistent = uint.TryParse(xs.Read($"{fe}/feature-persistent"), NumberStyles.None, CultureInfo.InvariantCulture, out uint p) && p != 0;

        int order = 0;
        string? orderText = xs.Read($"{fe}/ring-page-order");
        if (orderText is not null && (!int.TryParse(orderText, NumberStyles.None, CultureInfo.InvariantCulture, out order) || order > MaxRingPageOrder))
        {
            return $"ring-page-order '{orderText}' is not from 0 to max-ring-page-order {MaxRingPageOrder}";
        }

        // One queue: its nodes in the frontend's directory; several: each in queue-N (blkif.h, "Multiple queues").
        for (int q = 0; q < queues; q++)
        {
            string dir = queues == 1 ? fe : $"{fe}/queue-{q}";
            if (ConnectQueue(xs, dir, order, orderText is not null, persistent) is { } why)
            {
                ((IXenbusDriver)this).Disconnect();
                return why;
            }
        }

        _device.Post(); // requests published before the binds had no one to notify
        return null;
    }

    private string? ConnectQueue(XsClient xs, string dir, int order, bool numbered, bool persistent)
    {
        var refs = new List<uint>();
        for (int i = 0; i < 1 << order; i++)
        {
            string node = numbered ? $"ring-ref{i}" : "ring-ref";
            if (!uint.TryParse(xs.Read($"{dir}/{node}"), NumberStyles.None, CultureInfo.InvariantCulture, out uint gref))
            {
                return $"reading {dir}/{node}";
            }

            refs.Add(gref);
        }

        if (!int.TryParse(xs.Read($"{dir}/event-channel"), NumberStyles.None, CultureInfo.InvariantCulture, out int port))
        {
            return $"reading {dir}/event-channel";
        }

        GrantedRing? ring = GrantedRing.Map(_hv.HostGrants, _domid, refs, BlkifLayout.SlotSize, out string? error);
        if (ring is null)
        {
            return error;
        }

        HostEventChannel? channel = _hv.HostEvents.BindInterdomain(_domid, port, this);
        if (channel is null)
        {
            ring.Dispose();
            return $"{dir}/event-channel {port} is not unbound for domain 0";
        }

        // BACK_RING_ATTACH: carry on from the responses already published (0 on a fresh ring).
        _queues.Add(new BlockQueue(ring, channel, ring.ReadIndex(SharedRingLayout.RspProd), persistent ? new PersistentGrants(MaxPersistentGrants) : null));
        return null;
    }

    void IXenbusDriver.Disconnect()
    {
        foreach (BlockQueue q in _queues)
        {
            q.Dispose();
        }

        _queues.Clear();
    }

    /// <summary>Tears the device down (<see cref="XenbusDevice.Dispose"/>: rings unmapped, channels closed), then closes the image (its lock released).</summary>
    public void Dispose() => _device.Dispose(_image.Dispose);

    private void ServeRing(BlockQueue q)
    {
        GrantedRing ring = q.Ring;
        uint rp = ring.ReadIndex(SharedRingLayout.ReqProd);
        Interlocked.MemoryBarrier(); // the slots are read after the index
        if (rp - q.RspProdPvt > ring.Size)
        {
            _xenbus.Fatal($"frontend provided bogus ring requests ({rp} - {q.RspProdPvt} = {rp - q.RspProdPvt} > {ring.Size}); halting ring processing");
            return;
        }

        uint budget = ring.Size;
        while (q.ReqCons != rp && budget > 0)
        {
            budget--;
            ring.ReadSlot(q.ReqCons, _slot);
            q.ReqCons++;
            (byte op, short status) = Dispatch(q.Grants, _slot);
            _response.AsSpan().Clear();
            BinaryPrimitives.WriteUInt64LittleEndian(_response.AsSpan(BlkifLayout.ResponseId), BinaryPrimitives.ReadUInt64LittleEndian(_slot.AsSpan(BlkifLayout.Id)));
            _response[BlkifLayout.ResponseOperation] = op;
            BinaryPrimitives.WriteInt16LittleEndian(_response.AsSpan(BlkifLayout.ResponseStatus), status);
            ring.WriteSlot(q.RspProdPvt++, _response);
            Requests++;
            Counters.Count(_slot, op, status, _segments);
        }

        PushResponses(q);
        q.Grants?.Purge(); // after an overflow: room for the grants in use now, once the responses are out
        if (q.ReqCons != rp)
        {
            _device.Post(); // the budget ran out: the rest in another pass, after other work had its turn
            return;
        }

        // RING_FINAL_CHECK_FOR_REQUESTS: ask to be notified of the next request, then look once more.
        ring.WriteIndex(SharedRingLayout.ReqEvent, q.ReqCons + 1);
        Interlocked.MemoryBarrier();
        if (ring.ReadIndex(SharedRingLayout.ReqProd) != q.ReqCons)
        {
            _device.Post();
        }
    }

    // RING_PUSH_RESPONSES_AND_CHECK_NOTIFY.
    private static void PushResponses(BlockQueue q)
    {
        GrantedRing ring = q.Ring;
        uint old = ring.ReadIndex(SharedRingLayout.RspProd);
        if (old == q.RspProdPvt)
        {
            return;
        }

        Interlocked.MemoryBarrier(); // the responses are visible before the index
        ring.WriteIndex(SharedRingLayout.RspProd, q.RspProdPvt);
        Interlocked.MemoryBarrier();
        uint rspEvent = ring.ReadIndex(SharedRingLayout.RspEvent);
        if (q.RspProdPvt - rspEvent < q.RspProdPvt - old)
        {
            q.Channel.Send();
        }
    }

    /// <summary>Serves one request (already copied out of the ring); the operation to echo and the status.</summary>
    private (byte Op, short Status) Dispatch(PersistentGrants? kept, ReadOnlySpan<byte> req)
    {
        byte op = req[BlkifLayout.Operation];
        switch (op)
        {
            case BlkifLayout.OpRead or BlkifLayout.OpWrite or BlkifLayout.OpWriteBarrier or BlkifLayout.OpFlushDiskCache:
            {
                int count = req[BlkifLayout.NrSegments];
                bool flush = op is BlkifLayout.OpWriteBarrier or BlkifLayout.OpFlushDiskCache;
                if (count > BlkifLayout.MaxSegments || (count == 0 && !flush))
                {
                    return (op, BlkifLayout.RspError);
                }

                for (int i = 0; i < count; i++)
                {
                    ReadOnlySpan<byte> s = req.Slice(BlkifLayout.Segments + (i * BlkifLayout.SegmentSize), BlkifLayout.SegmentSize);
                    _segments[i] = new BlockSegment(
                        BinaryPrimitives.ReadUInt32LittleEndian(s[BlkifLayout.SegmentGref..]), s[BlkifLayout.SegmentFirstSect], s[BlkifLayout.SegmentLastSect]);
                }

                return (op, ReadWrite(kept, op, BinaryPrimitives.ReadUInt64LittleEndian(req[BlkifLayout.SectorNumber..]), count));
            }

            case BlkifLayout.OpIndirect:
            {
                byte inner = req[BlkifLayout.IndirectOp];
                int count = BinaryPrimitives.ReadUInt16LittleEndian(req[BlkifLayout.IndirectNrSegments..]);
                if (inner is not (BlkifLayout.OpRead or BlkifLayout.OpWrite) || count == 0 || count > MaxIndirectSegments)
                {
                    return (inner, BlkifLayout.RspError);
                }

                if (!ReadIndirectSegments(kept, req, count))
                {
                    return (inner, BlkifLayout.RspError);
                }

                return (inner, ReadWrite(kept, inner, BinaryPrimitives.ReadUInt64LittleEndian(req[BlkifLayout.SectorNumber..]), count));
            }

            case BlkifLayout.OpDiscard:
                return (op, Discard(BinaryPrimitives.ReadUInt64LittleEndian(req[BlkifLayout.SectorNumber..]), BinaryPrimitives.ReadUInt64LittleEndian(req[BlkifLayout.DiscardNrSectors..])));

            default:
                return (op, BlkifLayout.RspEopnotsupp);
        }
    }

    // The segment descriptors of an indirect request, from its indirect pages (mapped read-only, one at a time; with
    // persistent grants kept like data pages, as xen-blkback does: the frontend reuses its indirect pages too).
    private bool ReadIndirectSegments(PersistentGrants? kept, ReadOnlySpan<byte> req, int count)
    {
        int pages = (count + BlkifLayout.SegmentsPerIndirectPage - 1) / BlkifLayout.SegmentsPerIndirectPage;
        for (int p = 0; p < pages; p++)
        {
            uint gref = BinaryPrimitives.ReadUInt32LittleEndian(req[(BlkifLayout.IndirectGrefs + (4 * p))..]);
            HostGrantMapping? m = MapGrant(kept, gref, write: false, out bool isKept);
            if (m is null)
            {
                return false;
            }

            try
            {
                using PageAccess a = m.Open();
                if (!a.IsPresent)
                {
                    return false;
                }

                int first = p * BlkifLayout.SegmentsPerIndirectPage;
                int n = Math.Min(count - first, BlkifLayout.SegmentsPerIndirectPage);
                for (int i = 0; i < n; i++)
                {
                    ReadOnlySpan<byte> s = a.Bytes.Slice(i * BlkifLayout.SegmentSize, BlkifLayout.SegmentSize);
                    _segments[first + i] = new BlockSegment(
                        BinaryPrimitives.ReadUInt32LittleEndian(s[BlkifLayout.SegmentGref..]), s[BlkifLayout.SegmentFirstSect], s[BlkifLayout.SegmentLastSect]);
                }
            }
            finally
            {
                if (!isKept)
                {
                    m.Dispose();
                }
            }
        }

        return true;
    }

    /// <summary>
    /// The frontend's grant for one page of a request, writable when the backend writes it (<paramref name="write"/>).
    /// With persistent grants: the ring's kept mapping, else a new writable one kept while there is room
    /// (<paramref name="isKept"/>: not the caller's to unmap). Otherwise, or when the grant is not writable and need not
    /// be (a frontend that ignores blkif.h note 8), mapped for this request only. Null when it does not map.
    /// </summary>
    private HostGrantMapping? MapGrant(PersistentGrants? kept, uint gref, bool write, out bool isKept)
    {
        isKept = false;
        if (kept is not null)
        {
            if (kept.Find(gref) is { } found)
            {
                isKept = true;
                return found;
            }

            if (kept.HasRoom())
            {
                GrantMaps++;
                if (_hv.HostGrants.Map(_domid, gref, readOnly: false, out _) is { } m)
                {
                    kept.Add(m);
                    isKept = true;
                    return m;
                }

                if (write)
                {
                    return null;
                }
            }
        }

        GrantMaps++;
        return _hv.HostGrants.Map(_domid, gref, readOnly: !write, out _);
    }

    private short ReadWrite(PersistentGrants? kept, byte op, ulong sector, int count)
    {
        bool read = op == BlkifLayout.OpRead;
        if (!read && _image.ReadOnly)
        {
            return BlkifLayout.RspError; // blkback: "attempted write to read-only device"
        }

        long sectors = 0;
        for (int i = 0; i < count; i++)
        {
            BlockSegment s = _segments[i];
            if (s.LastSector < s.FirstSector || s.LastSector >= BlkifLayout.SectorsPerPage)
            {
                return BlkifLayout.RspError;
            }

            sectors += s.Sectors;
        }

        if (sector > (ulong)_image.Sectors || (ulong)sectors > (ulong)_image.Sectors - sector)
        {
            return BlkifLayout.RspError; // "access beyond end of device"
        }

        bool ok = true;
        int mapped = 0;
        try
        {
            for (; mapped < count; mapped++)
            {
                // A read fills the frontend's page, so its grant must be writable; a write only reads it.
                _maps[mapped] = MapGrant(kept, _segments[mapped].Gref, write: read, out _kept[mapped]);
                if (_maps[mapped] is null)
                {
                    return BlkifLayout.RspError;
                }
            }

            long offset = (long)sector * BlkifLayout.SectorSize;
            for (int i = 0; i < count && ok; i++)
            {
                BlockSegment s = _segments[i];
                int length = s.Sectors * BlkifLayout.SectorSize;
                using (PageAccess a = _maps[i]!.Open())
                {
                    Span<byte> data = a.IsPresent ? a.Bytes.Slice(s.FirstSector * BlkifLayout.SectorSize, length) : default;
                    ok = a.IsPresent && (read ? _image.Read(data, offset) : _image.Write(data, offset));
                }

                offset += length;
            }
        }
        finally
        {
            for (int i = 0; i < mapped && i < count; i++)
            {
                if (!_kept[i])
                {
                    _maps[i]?.Dispose();
                }

                _maps[i] = null;
                _kept[i] = false;
            }
        }

        if (ok && op is BlkifLayout.OpWriteBarrier or BlkifLayout.OpFlushDiskCache)
        {
            ok = _image.Flush();
        }

        return ok ? BlkifLayout.RspOkay : BlkifLayout.RspError;
    }

    private short Discard(ulong sector, ulong count)
    {
        if (!_discard)
        {
            return _image.ReadOnly ? BlkifLayout.RspError : BlkifLayout.RspEopnotsupp;
        }

        if (sector > (ulong)_image.Sectors || count > (ulong)_image.Sectors - sector)
        {
            return BlkifLayout.RspError;
        }

        if (count == 0)
        {
            return BlkifLayout.RspOkay;
        }

        int errno = _image.Discard((long)sector * BlkifLayout.SectorSize, (long)count * BlkifLayout.SectorSize);
        return errno switch
        {
            0 => BlkifLayout.RspOkay,
            Eopnotsupp => BlkifLayout.RspEopnotsupp,
            _ => BlkifLayout.RspError,
        };
    }

    private static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);
}
