using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Backends.Net;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Tests.Builder;
using static XenSharp.Abi.NetifLayout;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Tests.Net;

/// <summary>One queue of a <see cref="FakeNetfront"/>: its two ring pages and private indices.</summary>
internal sealed class FrontQueue(FakeNetfront front, Mfn tx, Mfn rx, NetbackQueueConfig config)
{
    private readonly List<(ushort Id, Mfn Page)> _posted = new();
    private uint _txProd;
    private uint _txRspCons;
    private uint _rxProd;
    private uint _rxRspCons;
    private ushort _nextId = 100;

    public NetbackQueueConfig Config => config;

    public Span<byte> TxPage => front.Page(tx);

    public Span<byte> RxPage => front.Page(rx);

    /// <summary>Writes a tx request in the next slot (not yet published).</summary>
    public ushort Tx(uint gref, ushort offset, ushort flags, ushort size)
    {
        ushort id = _nextId++;
        Span<byte> s = TxPage.Slice(TxSlot(_txProd++), TxSlotSize);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TxReqGref..], gref);
        BinaryPrimitives.WriteUInt16LittleEndian(s[TxReqOffset..], offset);
        BinaryPrimitives.WriteUInt16LittleEndian(s[TxReqFlags..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(s[TxReqId..], id);
        BinaryPrimitives.WriteUInt16LittleEndian(s[TxReqSize..], size);
        return id;
    }

    /// <summary>Writes an extra info slot (not yet published).</summary>
    public void TxExtra(byte type, byte flags, ushort gsoSize = 0, byte gsoType = 0)
    {
        Span<byte> s = TxPage.Slice(TxSlot(_txProd++), TxSlotSize);
        s.Clear();
        s[ExtraType] = type;
        s[ExtraFlags] = flags;
        BinaryPrimitives.WriteUInt16LittleEndian(s[ExtraGsoSize..], gsoSize);
        s[ExtraGsoType] = gsoType;
    }

    /// <summary>Publishes the written requests (req_prod) and notifies the backend.</summary>
    public void PushTx(uint? reqProd = null)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(TxPage[ReqProd..], reqProd ?? _txProd);
        front.D.Events.Send((uint)config.TxPort);
    }

    /// <summary>
    /// Sends <paramref name="frame"/> in one go: page-sized pieces, each in a fresh read-only grant (the first at
    /// <paramref name="offset"/>), with <paramref name="flags"/> on the first request. Returns the request ids.
    /// </summary>
    public ushort[] Send(byte[] frame, ushort flags = 0, ushort offset = 0, (ushort Size, byte Type)? gso = null)
    {
        var pieces = new List<(uint Ref, int At, int Length)>();
        int at = 0;
        int off = offset;
        do
        {
            int length = Math.Min(PageSize - off, frame.Length - at);
            (Mfn m, uint r) = front.NewPage(readOnly: true);
            frame.AsSpan(at, length).CopyTo(front.Page(m)[off..]);
            pieces.Add((r, off, length));
            at += length;
            off = 0;
        }
        while (at < frame.Length);

        var ids = new List<ushort>();
        for (int i = 0; i < pieces.Count; i++)
        {
            ushort f = (ushort)((i == 0 ? flags : 0) | (i + 1 < pieces.Count ? NetTxFlags.MoreData : 0) | (i == 0 && gso is not null ? NetTxFlags.ExtraInfo : 0));
            ids.Add(Tx(pieces[i].Ref, (ushort)pieces[i].At, f, (ushort)(i == 0 ? frame.Length : pieces[i].Length)));
            if (i == 0 && gso is { } g)
            {
                TxExtra(NetifExtra.TypeGso, 0, g.Size, g.Type);
            }
        }

        PushTx();
        return ids.ToArray();
    }

    /// <summary>The tx responses since the last call.</summary>
    public List<(ushort Id, short Status)> TxResponses()
    {
        var r = new List<(ushort, short)>();
        uint prod = BinaryPrimitives.ReadUInt32LittleEndian(TxPage[RspProd..]);
        for (; _txRspCons != prod; _txRspCons++)
        {
            ReadOnlySpan<byte> s = TxPage.Slice(TxSlot(_txRspCons), TxSlotSize);
            r.Add((BinaryPrimitives.ReadUInt16LittleEndian(s[TxRspId..]), BinaryPrimitives.ReadInt16LittleEndian(s[TxRspStatus..])));
        }

        BinaryPrimitives.WriteUInt32LittleEndian(TxPage[RspEvent..], _txRspCons + 1); // RING_FINAL_CHECK_FOR_RESPONSES

        return r;
    }

    public uint TxReqEvent => BinaryPrimitives.ReadUInt32LittleEndian(TxPage[ReqEvent..]);

    /// <summary>Posts <paramref name="count"/> rx buffers (fresh writable grants), publishes them and notifies.</summary>
    public void PostRx(int count, uint? badRef = null)
    {
        for (int i = 0; i < count; i++)
        {
            (Mfn m, uint r) = front.NewPage();
            ushort id = (ushort)(_rxProd & (RxRingSize - 1));
            Span<byte> s = RxPage.Slice(RxSlot(_rxProd++), RxSlotSize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[RxReqId..], id);
            BinaryPrimitives.WriteUInt32LittleEndian(s[RxReqGref..], badRef ?? r);
            _posted.Add((id, m));
        }

        BinaryPrimitives.WriteUInt32LittleEndian(RxPage[ReqProd..], _rxProd);
        front.D.Events.Send((uint)config.RxPort);
    }

    public void SetRxReqProd(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(RxPage[ReqProd..], value);

    public uint RxReqEvent => BinaryPrimitives.ReadUInt32LittleEndian(RxPage[ReqEvent..]);

    /// <summary>The rx responses since the last call: the raw slot and the buffer page posted in that slot.</summary>
    public List<(ushort Id, ushort Offset, ushort Flags, short Status, byte[] Slot, byte[] Data)> RxResponses()
    {
        var r = new List<(ushort, ushort, ushort, short, byte[], byte[])>();
        uint prod = BinaryPrimitives.ReadUInt32LittleEndian(RxPage[RspProd..]);
        for (; _rxRspCons != prod; _rxRspCons++)
        {
            ReadOnlySpan<byte> s = RxPage.Slice(RxSlot(_rxRspCons), RxSlotSize);
            short status = BinaryPrimitives.ReadInt16LittleEndian(s[RxRspStatus..]);
            Mfn page = _posted[(int)_rxRspCons].Page;
            r.Add((BinaryPrimitives.ReadUInt16LittleEndian(s[RxRspId..]), BinaryPrimitives.ReadUInt16LittleEndian(s[RxRspOffset..]),
                BinaryPrimitives.ReadUInt16LittleEndian(s[RxRspFlags..]), status, s.ToArray(), front.Page(page)[..Math.Max(0, (int)status)].ToArray()));
        }

        BinaryPrimitives.WriteUInt32LittleEndian(RxPage[RspEvent..], _rxRspCons + 1);

        return r;
    }

    /// <summary>Reassembles the rx responses into packets, as netfront does (skipping extra info slots).</summary>
    public List<byte[]> RxPackets()
    {
        var packets = new List<byte[]>();
        var current = new List<byte>();
        bool extraNext = false;
        foreach (var (_, _, flags, status, _, data) in RxResponses())
        {
            if (extraNext)
            {
                extraNext = false;
                continue;
            }

            current.AddRange(data);
            extraNext = current.Count == data.Length && (flags & NetRxFlags.ExtraInfo) != 0;
            if ((flags & NetRxFlags.MoreData) == 0 && status >= 0)
            {
                packets.Add(current.ToArray());
                current.Clear();
            }
        }

        return packets;
    }
}
