using System.Buffers.Binary;
using System.Text;
using XenSharp.Abi;

namespace XenSharp.Tests.Xenstore;

/// <summary>
/// The guest's side of a xenstore ring page, as a test plays it: produce request bytes (with wrap-around), consume
/// response bytes, and parse whole messages out of what was consumed.
/// </summary>
internal sealed class GuestRing
{
    private readonly PageAccess _page;
    private readonly List<byte> _received = new();

    public GuestRing(byte[] page) => _page = () => page;

    public GuestRing(PageAccess page) => _page = page;

    public delegate Span<byte> PageAccess();

    public uint ReqCons { get => Get(XenstoreLayout.ReqCons); set => Set(XenstoreLayout.ReqCons, value); }

    public uint ReqProd { get => Get(XenstoreLayout.ReqProd); set => Set(XenstoreLayout.ReqProd, value); }

    public uint RspCons { get => Get(XenstoreLayout.RspCons); set => Set(XenstoreLayout.RspCons, value); }

    public uint RspProd { get => Get(XenstoreLayout.RspProd); set => Set(XenstoreLayout.RspProd, value); }

    public uint Features => Get(XenstoreLayout.ServerFeatures);

    public uint Error => Get(XenstoreLayout.Error);

    public static byte[] Message(XsMessageType type, uint reqId, uint txId, string payload) =>
        Message((uint)type, reqId, txId, Encoding.Latin1.GetBytes(payload));

    public static byte[] Message(uint type, uint reqId, uint txId, byte[] payload, uint? len = null)
    {
        var m = new byte[XenstoreLayout.HeaderSize + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(m, type);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(4), reqId);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), txId);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(12), len ?? (uint)payload.Length);
        payload.CopyTo(m, XenstoreLayout.HeaderSize);
        return m;
    }

    /// <summary>Copies bytes into req[] at req_prod (as far as they fit) and advances req_prod. Returns the count.</summary>
    public int Produce(ReadOnlySpan<byte> bytes)
    {
        uint prod = ReqProd;
        int room = XenstoreLayout.RingSize - (int)(prod - ReqCons);
        int n = Math.Min(room, bytes.Length);
        Span<byte> page = _page();
        for (int i = 0; i < n; i++)
        {
            page[XenstoreLayout.Req + (int)((prod + (uint)i) % XenstoreLayout.RingSize)] = bytes[i];
        }

        ReqProd = prod + (uint)n;
        return n;
    }

    /// <summary>Takes everything in rsp[] and advances rsp_cons.</summary>
    public int Consume()
    {
        uint cons = RspCons;
        uint prod = RspProd;
        int n = (int)(prod - cons);
        Span<byte> page = _page();
        for (int i = 0; i < n; i++)
        {
            _received.Add(page[XenstoreLayout.Rsp + (int)((cons + (uint)i) % XenstoreLayout.RingSize)]);
        }

        RspCons = prod;
        return n;
    }

    /// <summary>Whole messages received so far (taken out of the buffer), as (type, req_id, tx_id, payload).</summary>
    public List<(XsMessageType Type, uint ReqId, uint TxId, string Payload)> Messages()
    {
        Consume();
        var list = new List<(XsMessageType, uint, uint, string)>();
        while (_received.Count >= XenstoreLayout.HeaderSize)
        {
            byte[] h = _received.GetRange(0, XenstoreLayout.HeaderSize).ToArray();
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(12));
            if (_received.Count < XenstoreLayout.HeaderSize + len)
            {
                break;
            }

            string payload = Encoding.Latin1.GetString(_received.GetRange(XenstoreLayout.HeaderSize, len).ToArray());
            list.Add(((XsMessageType)BinaryPrimitives.ReadUInt32LittleEndian(h), BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(4)),
                BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(8)), payload));
            _received.RemoveRange(0, XenstoreLayout.HeaderSize + len);
        }

        return list;
    }

    private uint Get(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(_page()[offset..]);

    private void Set(int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(_page()[offset..], value);
}
