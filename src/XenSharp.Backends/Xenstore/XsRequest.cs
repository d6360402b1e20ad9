using System.Text;
using XenSharp.Abi;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// One request being processed: its header fields, payload, the connection it came from and the transaction its tx_id
/// names (null for tx_id 0, and for WATCH/UNWATCH, which ignore it). Payload strings are decoded byte for byte
/// (Latin-1), so path checks see every byte the guest sent.
/// </summary>
internal sealed class XsRequest(StoreConnection connection, XsMessageType type, uint requestId, uint transactionId, byte[] payload)
{
    public StoreConnection Connection { get; } = connection;

    public XsMessageType Type { get; } = type;

    public uint RequestId { get; } = requestId;

    public uint TransactionId { get; } = transactionId;

    public byte[] Payload { get; } = payload;

    public StoreTransaction? Transaction { get; set; }

    /// <summary>xenstored's onearg: the payload must be exactly one NUL-terminated string; else null.</summary>
    public string? OneArg()
    {
        int nul = Array.IndexOf(Payload, (byte)0);
        return Payload.Length > 0 && nul == Payload.Length - 1 ? Encoding.Latin1.GetString(Payload, 0, nul) : null;
    }

    /// <summary>The NUL-terminated strings at the start of the payload (bytes after the last NUL are not a string).</summary>
    public List<string> Strings()
    {
        var strings = new List<string>();
        int start = 0;
        for (int i = 0; i < Payload.Length; i++)
        {
            if (Payload[i] == 0)
            {
                strings.Add(Encoding.Latin1.GetString(Payload, start, i - start));
                start = i + 1;
            }
        }

        return strings;
    }

    public override string ToString() => $"{Type} req {RequestId} tx {TransactionId} from {Connection}";
}
