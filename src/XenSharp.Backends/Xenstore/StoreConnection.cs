using XenSharp.Abi;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// One client of the store: a guest's ring, a host socket, or an in-process client. It carries the client's identity
/// (domain id; domain 0 and sockets are privileged), its watches and open transactions, the message being assembled from
/// its input, and its queued output. Only the store touches it, under the store's lock.
/// </summary>
internal sealed class StoreConnection
{
    public StoreConnection(uint domid, bool privileged, IStoreTransport? transport)
    {
        Domid = domid;
        IsPrivileged = privileged;
        Home = StorePath.Home(domid);
        Transport = transport;
    }

    public uint Domid { get; }

    public bool IsPrivileged { get; }

    /// <summary>/local/domain/&lt;id&gt;: where relative paths start.</summary>
    public string Home { get; }

    public IStoreTransport? Transport { get; }

    /// <summary>SET_TARGET: the domain whose permissions this one also has.</summary>
    public uint? Target { get; set; }

    public List<StoreWatch> Watches { get; } = new();

    public Dictionary<uint, StoreTransaction> Transactions { get; } = new();

    public uint NextTransactionId { get; set; } = 1;

    public LinkedList<OutMessage> Output { get; } = new();

    /// <summary>Bytes of <see cref="Output"/>'s first message already on the ring.</summary>
    public int OutputOffset { get; set; }

    /// <summary>Replies (not events) in <see cref="Output"/>: the "outstanding" quota.</summary>
    public int QueuedReplies { get; set; }

    public long QueuedEventBytes { get; set; }

    /// <summary>How many events with each key wait in <see cref="Output"/>.</summary>
    public Dictionary<string, int> WaitingEvents { get; } = new(StringComparer.Ordinal);

    /// <summary>Given up after a protocol violation, or released: never read, written or notified again.</summary>
    public bool Closed { get; set; }

    /// <summary>A store pass has been queued to continue reading this connection's input.</summary>
    public bool ContinuationQueued { get; set; }

    public byte[] Header { get; } = new byte[XenstoreLayout.HeaderSize];

    public int HeaderUsed { get; set; }

    /// <summary>The payload being assembled, once its header is complete.</summary>
    public byte[]? Body { get; set; }

    public int BodyUsed { get; set; }

    /// <summary>Takes a message off <see cref="Output"/> (sent, handed to an in-process client, or dropped) and its accounting.</summary>
    public void Remove(LinkedListNode<OutMessage> node)
    {
        OutMessage m = node.Value;
        Output.Remove(node);
        if (m.EventKey is { } key)
        {
            QueuedEventBytes -= m.Bytes.Length;
            if (--WaitingEvents[key] == 0)
            {
                WaitingEvents.Remove(key);
            }
        }
        else
        {
            QueuedReplies--;
        }
    }

    public override string ToString() => Transport is null ? $"local client of d{Domid}" : $"d{Domid}";
}
