using System.Buffers.Binary;
using System.Runtime.InteropServices;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Dom0;
using XenSharp.Hypervisor.Events;
using static XenSharp.Abi.NetifLayout;

namespace XenSharp.Backends.Net;

/// <summary>
/// One netif queue of a VIF (a tx ring, an rx ring, one or two event channels), served on its own
/// <see cref="BackendLoop"/>: a pass takes up to <see cref="TxBudget"/> packets off the tx ring — grant-copying each
/// out of the guest, answering every slot, handing the packet to the VIF's VFR port — then fills the frontend's posted
/// rx buffers by grant copy from the queue's inbound packets, and notifies the guest as ring.h's push-and-check says.
/// <para>
/// Hostile input (xen-netback's rules): req_prod more than a ring ahead of req_cons, an extra info slot of an unknown
/// type or a zero GSO size, a packet of <see cref="FatalSlots"/> slots or more, one whose slots the frontend has not
/// produced, a slot whose offset + size passes its page — each is fatal: the whole VIF is shut (xenvif_fatal_tx_err)
/// and serves nothing more. A packet under 14 bytes, of more than <see cref="NrSlotsMin"/> slots, whose fragments
/// add up to more than its size, or whose grants do not copy, is answered NETIF_RSP_ERROR and dropped. Every slot is
/// read from the shared page once, into a local, before it is checked.
/// </para>
/// <para>
/// Invariants: the backend only ever writes a response into a slot whose request it consumed, so rsp_prod never passes
/// req_cons, and rx responses sit in their requests' slots (netfront relies on it). The inbound queue holds at most
/// <see cref="InboundMaxPackets"/> packets and <see cref="InboundMaxBytes"/> bytes: a frontend that posts no rx buffers
/// or consumes no responses costs drops (counted), never memory. Threads: <see cref="_lock"/> serialises passes; it is
/// taken before the core's locks (grant copies, event sends) and the VFR's; a ring page is open
/// (<see cref="HostGrantMapping"/>'s leaf lock) only while slots are read or written, never across a grant copy or a
/// VFR call. <see cref="_inboundLock"/> is a leaf.
/// </para>
/// </summary>
internal sealed class NetbackQueue : IEventSink, IDisposable
{
    public const int TxBudget = 64;
    public const int FatalSlots = 20;
    public const int InboundMaxPackets = 512;
    public const int InboundMaxBytes = 1 << 20;

    private readonly object _lock = new();
    private readonly object _inboundLock = new();
    private readonly Queue<NetPacket> _inbound = new();
    private readonly Netback _vif;
    private readonly XenHypervisor _hv;
    private readonly int _index;
    private HostGrantMapping? _txRing;
    private HostGrantMapping? _rxRing;
    private HostEventChannel? _txChannel;
    private HostEventChannel? _rxChannel;
    private BackendLoop? _loop;
    private int _inboundBytes;
    private uint _txReqCons;
    private uint _txRspPvt;
    private uint _rxReqCons;
    private bool _shut;
    private bool _disposed;

    private NetbackQueue(Netback vif, XenHypervisor hv, int index)
    {
        _vif = vif;
        _hv = hv;
        _index = index;
    }

    internal BackendLoop Loop => _loop!;

    private ushort Domid => _vif.Config.FrontendDomid;

    /// <summary>Maps the rings, binds the ports and starts the loop; throws <see cref="NetbackConnectException"/> (having undone all).</summary>
    public static NetbackQueue Connect(Netback vif, XenHypervisor hv, int index, NetbackQueueConfig config, bool ownThread)
    {
        var q = new NetbackQueue(vif, hv, index);
        try
        {
            ushort domid = vif.Config.FrontendDomid;
            q._txRing = hv.HostGrants.Map(domid, config.TxRingRef, readOnly: false, out short s1)
                ?? throw new NetbackConnectException($"queue {index}: tx-ring-ref {config.TxRingRef} of d{domid} does not map (status {s1})");
            q._rxRing = hv.HostGrants.Map(domid, config.RxRingRef, readOnly: false, out short s2)
                ?? throw new NetbackConnectException($"queue {index}: rx-ring-ref {config.RxRingRef} of d{domid} does not map (status {s2})");
            q._loop = new BackendLoop($"{vif.Config.Name}-q{index}", q.Pass, Timeout.InfiniteTimeSpan, ownThread);
            q._txChannel = hv.HostEvents.BindInterdomain(domid, config.TxPort, q)
                ?? throw new NetbackConnectException($"queue {index}: port {config.TxPort} of d{domid} is not unbound for domain 0");
            q._rxChannel = !config.SplitEvents ? q._txChannel : hv.HostEvents.BindInterdomain(domid, config.RxPort, q)
                ?? throw new NetbackConnectException($"queue {index}: port {config.RxPort} of d{domid} is not unbound for domain 0");
            using (PageAccess a = q._txRing.Open())
            {
                q._txReqCons = q._txRspPvt = Index(a.Bytes, RspProd); // a fresh ring has both at 0; a reconnect resumes
            }

            using (PageAccess a = q._rxRing.Open())
            {
                q._rxReqCons = Index(a.Bytes, RspProd);
            }
        }
        catch
        {
            q.Dispose();
            throw;
        }

        return q;
    }

    /// <summary>The guest sent on one of this queue's ports (its vCPU thread, no core lock held): wakes the loop.</summary>
    public void Notify() => _loop?.Post();

    /// <summary>Queues a packet for the guest (any thread); false if the queue is full or shut.</summary>
    public bool Enqueue(NetPacket packet)
    {
        lock (_inboundLock)
        {
            if (_shut || _inbound.Count >= InboundMaxPackets || _inboundBytes + packet.Length > InboundMaxBytes)
            {
                Interlocked.Increment(ref _vif.Counters.RxFullCount);
                return false;
            }

            _inbound.Enqueue(packet);
            _inboundBytes += packet.Length;
        }

        _loop?.Post();
        return true;
    }

    /// <summary>Packets waiting for rx buffers.</summary>
    public int InboundCount
    {
        get
        {
            lock (_inboundLock)
            {
                return _inbound.Count;
            }
        }
    }

    /// <summary>Stops serving (a fatal error on any queue of the VIF); called under no lock or this queue's.</summary>
    public void Shut()
    {
        lock (_inboundLock)
        {
            _shut = true;
            _inbound.Clear();
            _inboundBytes = 0;
        }
    }

    public bool IsShut
    {
        get
        {
            lock (_inboundLock)
            {
                return _shut;
            }
        }
    }

    public void Dispose()
    {
        _loop?.Dispose();
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        Shut();
        _txChannel?.Close();
        if (_rxChannel != _txChannel)
        {
            _rxChannel?.Close();
        }

        _txRing?.Dispose();
        _rxRing?.Dispose();
    }

    private void Pass()
    {
        try
        {
            lock (_lock)
            {
                if (_disposed || IsShut || _vif.PortOrNull is not { } port)
                {
                    return; // not attached yet: Connect notifies every queue once it is
                }

                List<NetPacket> outgoing = ServiceTx();
                foreach (NetPacket p in outgoing)
                {
                    port.Send(p);
                }

                if (!IsShut)
                {
                    ServiceRx();
                }
            }
        }
        catch (Exception e)
        {
            _vif.Fatal($"queue {_index}: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>Takes up to <see cref="TxBudget"/> packets off the tx ring and answers them; returns the good ones.</summary>
    private List<NetPacket> ServiceTx()
    {
        var packets = new List<NetTxPacket>();
        using (PageAccess a = _txRing!.Open())
        {
            if (!a.IsPresent)
            {
                return [];
            }

            Span<byte> page = a.Bytes;
            uint prod = Volatile.Read(ref IndexRef(page, ReqProd));
            if (prod - _txReqCons > TxRingSize)
            {
                _vif.Fatal($"queue {_index}: impossible number of tx requests: req_prod {prod}, req_cons {_txReqCons}, ring {TxRingSize}");
                return [];
            }

            while (_txReqCons != prod && packets.Count < TxBudget)
            {
                NetTxPacket? p = ReadTxPacket(page, prod, out string? fatal);
                if (p is null)
                {
                    _vif.Fatal($"queue {_index}: {fatal}");
                    return [];
                }

                packets.Add(p);
            }
        }

        foreach (NetTxPacket p in packets)
        {
            CopyTxPacket(p);
        }

        bool notify;
        bool more;
        using (PageAccess a = _txRing.Open())
        {
            if (!a.IsPresent)
            {
                return [];
            }

            Span<byte> page = a.Bytes;
            foreach (NetTxPacket p in packets)
            {
                foreach (NetTxSlot s in p.Slots)
                {
                    Span<byte> rsp = page.Slice(TxSlot(_txRspPvt++), TxSlotSize);
                    BinaryPrimitives.WriteUInt16LittleEndian(rsp[TxRspId..], s.IsExtra ? (ushort)0 : s.Id);
                    BinaryPrimitives.WriteInt16LittleEndian(rsp[TxRspStatus..], s.IsExtra ? RspNull : p.Status);
                }
            }

            notify = PushResponses(page, _txRspPvt);
            more = FinalCheckForRequests(page, _txReqCons);
        }

        if (notify)
        {
            _txChannel!.Send();
        }

        if (more)
        {
            _loop!.Post(); // the budget ran out or the frontend queued more meanwhile: another pass
        }

        var good = new List<NetPacket>(packets.Count);
        foreach (NetTxPacket p in packets)
        {
            if (p.IsControl && p.Status == RspOkay)
            {
                continue; // xen-netback keeps a filter list; not kept here (multicast is flooded)
            }

            if (p.Status == RspOkay)
            {
                Interlocked.Increment(ref _vif.Counters.TxPacketCount);
                Interlocked.Add(ref _vif.Counters.TxByteCount, p.Size);
                good.Add(new NetPacket(p.Frame!, p.Offload, p.GsoType, p.GsoSize));
            }
            else
            {
                Interlocked.Increment(ref _vif.Counters.TxErrorCount);
                _vif.LogLimited($"tx error: {p.Error}");
            }
        }

        return good;
    }

    /// <summary>
    /// Reads one packet's slots from req_cons on (the page is open) and advances req_cons past them. Null with the
    /// reason when the packet is fatal.
    /// </summary>
    private NetTxPacket? ReadTxPacket(Span<byte> page, uint prod, out string? fatal)
    {
        fatal = null;
        var p = new NetTxPacket();
        uint idx = _txReqCons;
        NetTxSlot first = ReadTxSlot(page, idx++, isExtra: false);
        p.Slots.Add(first);
        p.Size = first.Size;
        if ((first.Flags & NetTxFlags.CsumBlank) != 0)
        {
            p.Offload |= NetOffload.CsumBlank | NetOffload.DataValidated;
        }
        else if ((first.Flags & NetTxFlags.DataValidated) != 0)
        {
            p.Offload |= NetOffload.DataValidated;
        }

        if ((first.Flags & NetTxFlags.ExtraInfo) != 0)
        {
            byte flags;
            do
            {
                if (idx == prod)
                {
                    fatal = "missing extra info";
                    return null;
                }

                if (p.Slots.Count > NetifExtra.TypeMax)
                {
                    fatal = "too many extra info slots";
                    return null;
                }

                ReadOnlySpan<byte> e = page.Slice(TxSlot(idx), TxSlotSize);
                byte type = e[ExtraType];
                flags = e[ExtraFlags];
                ushort gsoSize = BinaryPrimitives.ReadUInt16LittleEndian(e[ExtraGsoSize..]);
                byte gsoType = e[ExtraGsoType];
                p.Slots.Add(ReadTxSlot(page, idx++, isExtra: true));
                if (type == NetifExtra.TypeNone || type >= NetifExtra.TypeMax)
                {
                    fatal = $"invalid extra type {type}";
                    return null;
                }

                if (type == NetifExtra.TypeGso)
                {
                    if (gsoSize == 0)
                    {
                        fatal = "GSO size must not be zero";
                        return null;
                    }

                    if (gsoType != NetifExtra.GsoTypeTcpV4 && gsoType != NetifExtra.GsoTypeTcpV6)
                    {
                        fatal = $"bad GSO type {gsoType}";
                        return null;
                    }

                    p.GsoType = gsoType;
                    p.GsoSize = gsoSize;
                }
                else if (type is NetifExtra.TypeMcastAdd or NetifExtra.TypeMcastDel)
                {
                    p.IsControl = true;
                }
            }
            while ((flags & NetifExtra.FlagMore) != 0);
        }

        int slots = 1;
        int remaining = first.Size;
        ushort more = first.Flags;
        while ((more & NetTxFlags.MoreData) != 0)
        {
            if (idx == prod)
            {
                fatal = $"a packet asks for more slots than the frontend produced (req_prod {prod})";
                return null;
            }

            if (slots >= FatalSlots)
            {
                fatal = $"a packet asks for {slots + 1} slots, the limit is {FatalSlots}";
                return null;
            }

            NetTxSlot frag = ReadTxSlot(page, idx++, isExtra: false);
            p.Slots.Add(frag);
            slots++;
            if (slots > NrSlotsMin)
            {
                p.Fail($"{slots} slots exceed {NrSlotsMin}");
            }

            if (frag.Size > remaining)
            {
                p.Fail($"slot size {frag.Size} > remaining size {remaining}");
            }
            else
            {
                remaining -= frag.Size;
            }

            if (frag.Offset + frag.Size > PageSize)
            {
                fatal = $"slot offset {frag.Offset} + size {frag.Size} crosses the page";
                return null;
            }

            more = frag.Flags;
        }

        _txReqCons = idx;
        p.FirstData = remaining;
        if (p.Status == RspOkay && first.Offset + remaining > PageSize)
        {
            fatal = $"first slot offset {first.Offset} + size {remaining} crosses the page";
            return null;
        }

        if (first.Size < VfrFrame.EthernetHeader && !p.IsControl)
        {
            p.Fail($"bad packet size {first.Size}");
        }

        return p;
    }

    /// <summary>Copies a packet's data out of the guest's grants (no page open); a copy that fails makes it an error.</summary>
    private void CopyTxPacket(NetTxPacket p)
    {
        if (p.Status != RspOkay || p.IsControl)
        {
            return;
        }

        var frame = new byte[p.Size];
        int at = 0;
        bool firstSlot = true;
        foreach (NetTxSlot s in p.Slots)
        {
            if (s.IsExtra)
            {
                continue;
            }

            int length = firstSlot ? p.FirstData : s.Size;
            firstSlot = false;
            short status = _hv.HostGrants.CopyFromGuest(Domid, s.Gref, s.Offset, frame.AsSpan(at, length));
            if (status != 0)
            {
                p.Fail($"grant {s.Gref} does not copy (status {status})");
                return;
            }

            at += length;
        }

        p.Frame = frame;
    }

    /// <summary>Fills posted rx buffers from the inbound queue as far as they go.</summary>
    private void ServiceRx()
    {
        bool pushed = false;
        bool notify = false;
        while (true)
        {
            NetPacket? p;
            lock (_inboundLock)
            {
                if (!_inbound.TryPeek(out p))
                {
                    break;
                }
            }

            byte[]? frame = Fit(p);
            if (frame is null)
            {
                Interlocked.Increment(ref _vif.Counters.RxUnfitCount);
                Dequeue(p);
                continue;
            }

            bool gso = p.IsGso;
            int dataSlots = Math.Max(1, (frame.Length + PageSize - 1) / PageSize);
            int needed = dataSlots + (gso ? 1 : 0);
            var requests = new (ushort Id, uint Gref)[needed];
            using (PageAccess a = _rxRing!.Open())
            {
                if (!a.IsPresent)
                {
                    return;
                }

                Span<byte> page = a.Bytes;
                uint prod = Volatile.Read(ref IndexRef(page, ReqProd));
                if (prod - _rxReqCons > RxRingSize)
                {
                    _vif.Fatal($"queue {_index}: impossible number of rx requests: req_prod {prod}, req_cons {_rxReqCons}, ring {RxRingSize}");
                    return;
                }

                if (prod - _rxReqCons < (uint)needed)
                {
                    // Not enough buffers posted: ask to be notified when there are, then look once more.
                    Volatile.Write(ref IndexRef(page, ReqEvent), _rxReqCons + (uint)needed);
                    Interlocked.MemoryBarrier();
                    prod = Volatile.Read(ref IndexRef(page, ReqProd));
                    if (prod - _rxReqCons > RxRingSize || prod - _rxReqCons < (uint)needed)
                    {
                        break;
                    }
                }

                for (int i = 0; i < needed; i++)
                {
                    ReadOnlySpan<byte> r = page.Slice(RxSlot(_rxReqCons + (uint)i), RxSlotSize);
                    requests[i] = (BinaryPrimitives.ReadUInt16LittleEndian(r[RxReqId..]), BinaryPrimitives.ReadUInt32LittleEndian(r[RxReqGref..]));
                }
            }

            // Data slot k goes to request 0 for k == 0, and to request k + 1 after a GSO extra slot.
            var statuses = new short[dataSlots];
            bool failed = false;
            for (int k = 0; k < dataSlots; k++)
            {
                int offset = k * PageSize;
                int length = Math.Min(PageSize, frame.Length - offset);
                int req = k == 0 || !gso ? k : k + 1;
                short st = _hv.HostGrants.CopyToGuest(Domid, requests[req].Gref, 0, frame.AsSpan(offset, length));
                statuses[k] = st == 0 ? (short)length : RspError;
                failed |= st != 0;
            }

            using (PageAccess a = _rxRing.Open())
            {
                if (!a.IsPresent)
                {
                    return;
                }

                Span<byte> page = a.Bytes;
                ushort offload = (p.Offload & NetOffload.CsumBlank) != 0 && frame == p.Frame
                    ? (ushort)(NetRxFlags.CsumBlank | NetRxFlags.DataValidated)
                    : (p.Offload & (NetOffload.DataValidated | NetOffload.CsumBlank)) != 0 ? NetRxFlags.DataValidated : (ushort)0;
                for (int k = 0; k < dataSlots; k++)
                {
                    int req = k == 0 || !gso ? k : k + 1;
                    ushort flags = (ushort)((k == 0 ? offload : 0) | (k + 1 < dataSlots ? NetRxFlags.MoreData : 0) | (k == 0 && gso ? NetRxFlags.ExtraInfo : 0));
                    Span<byte> rsp = page.Slice(RxSlot(_rxReqCons + (uint)req), RxSlotSize);
                    BinaryPrimitives.WriteUInt16LittleEndian(rsp[RxRspId..], requests[req].Id);
                    BinaryPrimitives.WriteUInt16LittleEndian(rsp[RxRspOffset..], 0);
                    BinaryPrimitives.WriteUInt16LittleEndian(rsp[RxRspFlags..], flags);
                    BinaryPrimitives.WriteInt16LittleEndian(rsp[RxRspStatus..], statuses[k]);
                }

                if (gso)
                {
                    Span<byte> e = page.Slice(RxSlot(_rxReqCons + 1), RxSlotSize);
                    e.Clear();
                    e[ExtraType] = NetifExtra.TypeGso;
                    BinaryPrimitives.WriteUInt16LittleEndian(e[ExtraGsoSize..], p.GsoSize);
                    e[ExtraGsoType] = p.GsoType;
                }

                _rxReqCons += (uint)needed;
                notify |= PushResponses(page, _rxReqCons);
                pushed = true;
            }

            Dequeue(p);
            if (failed)
            {
                Interlocked.Increment(ref _vif.Counters.RxErrorCount);
            }
            else
            {
                Interlocked.Increment(ref _vif.Counters.RxPacketCount);
                Interlocked.Add(ref _vif.Counters.RxByteCount, frame.Length);
            }
        }

        if (pushed && notify)
        {
            _rxChannel!.Send();
        }
    }

    /// <summary>The frame as this frontend can take it (checksum filled when it takes no blank one); null if it cannot.</summary>
    private byte[]? Fit(NetPacket p)
    {
        NetbackFeatures f = _vif.Config.Features;
        if (p.IsGso && !_vif.AcceptsGso(p.GsoType))
        {
            return null; // Netback.Deliver segments these; one that got here anyway cannot go
        }

        if (p.Length > PageSize && !f.Sg)
        {
            return null;
        }

        if ((p.Offload & NetOffload.CsumBlank) != 0 && !f.CsumOffload)
        {
            return NetChecksum.Filled(p.Frame);
        }

        return p.Frame;
    }

    private void Dequeue(NetPacket p)
    {
        lock (_inboundLock)
        {
            if (_inbound.TryPeek(out NetPacket? head) && head == p)
            {
                _inbound.Dequeue();
                _inboundBytes -= p.Length;
            }
        }
    }

    private static NetTxSlot ReadTxSlot(Span<byte> page, uint index, bool isExtra)
    {
        ReadOnlySpan<byte> s = page.Slice(TxSlot(index), TxSlotSize);
        return new NetTxSlot(
            BinaryPrimitives.ReadUInt32LittleEndian(s[TxReqGref..]),
            BinaryPrimitives.ReadUInt16LittleEndian(s[TxReqOffset..]),
            BinaryPrimitives.ReadUInt16LittleEndian(s[TxReqFlags..]),
            BinaryPrimitives.ReadUInt16LittleEndian(s[TxReqId..]),
            BinaryPrimitives.ReadUInt16LittleEndian(s[TxReqSize..]),
            isExtra);
    }

    /// <summary>RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: publishes rsp_prod; whether rsp_event asks for a notification.</summary>
    private static bool PushResponses(Span<byte> page, uint newProd)
    {
        ref uint prodRef = ref IndexRef(page, RspProd);
        uint old = Volatile.Read(ref prodRef);
        Volatile.Write(ref prodRef, newProd); // the responses are visible before the index
        Interlocked.MemoryBarrier();
        uint ev = Volatile.Read(ref IndexRef(page, RspEvent));
        return newProd - ev < newProd - old;
    }

    /// <summary>RING_FINAL_CHECK_FOR_REQUESTS: whether requests wait; if none, sets req_event to be told of the next.</summary>
    private static bool FinalCheckForRequests(Span<byte> page, uint cons)
    {
        if (Volatile.Read(ref IndexRef(page, ReqProd)) != cons)
        {
            return true;
        }

        Volatile.Write(ref IndexRef(page, ReqEvent), cons + 1);
        Interlocked.MemoryBarrier();
        return Volatile.Read(ref IndexRef(page, ReqProd)) != cons;
    }

    private static uint Index(Span<byte> page, int offset) => Volatile.Read(ref IndexRef(page, offset));

    private static ref uint IndexRef(Span<byte> page, int offset) =>
        ref MemoryMarshal.Cast<byte, uint>(page.Slice(offset, sizeof(uint)))[0];
}
