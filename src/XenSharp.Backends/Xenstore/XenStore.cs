using System.Buffers.Binary;
using System.Text;
using XenSharp.Abi;
using XenSharp.Hypervisor.Logging;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// xenstored inside the host process, which is domain 0: a tree of nodes with permissions, watches, transactions and
/// quotas, following docs/misc/xenstore.txt and C xenstored's behaviour (errors named as it names them). Guests reach
/// it over their xenstore ring (<see cref="XenstoreBackend"/>), the toolstack through in-process clients
/// (<see cref="Connect"/>).
/// <para>Invariants:</para>
/// <list type="number">
/// <item>The database <see cref="_nodes"/> holds "/" and the special nodes "@introduceDomain" and "@releaseDomain";
/// every other node's parent exists and lists it once among its children, and every child listed exists.</item>
/// <item>Nodes in the database are never modified in place: a change stores a new object with a new, unique
/// generation (<see cref="_generation"/> only grows), which is what transactions compare at commit.</item>
/// <item><see cref="_nodeCounts"/>[d] is the number of database nodes whose owner (first permission) is d.</item>
/// <item>A connection's queued replies, once taken from the queue, are written in order and whole; a closed connection
/// has no watches, transactions or output and is never read, written or notified again.</item>
/// <item>Nothing a client sends makes the store throw: malformed requests get XS_ERROR replies, malformed framing
/// (payload above 4096, ring indexes that jump) closes that connection only, with the ring's error field set.</item>
/// </list>
/// <para>
/// Locking: one lock, <see cref="_lock"/>, guards everything above, every connection and every transport call. Guest
/// requests are processed on the domain's backend loop (<see cref="XenstoreBackend"/>, never a vCPU thread) through
/// <see cref="Service"/>: a pass reads at most <see cref="MessagesPerPass"/> messages and hands the rest to a
/// thread-pool pass, so a flooding guest cannot hold the lock for long. Inside the lock the store opens a ring page
/// (the core's memory lock, through <see cref="XenSharp.Hypervisor.Dom0.ForeignPage"/>) and raises events (the
/// event-channel table's lock); nothing calls into the store holding either, so the order is store, then page or
/// event table (docs/architecture.md, "Lock order").
/// </para>
/// </summary>
public sealed partial class XenStore
{
    /// <summary>Requests one pass reads from a connection before yielding to a thread-pool pass.</summary>
    public const int DefaultMessagesPerPass = 64;

    /// <summary>The server features every ring advertises (as C xenstored: error field, watch depth, DOMID_ANY).</summary>
    public const uint SupportedFeatures = XenstoreLayout.FeatureError | XenstoreLayout.FeatureWatchDepth | XenstoreLayout.FeatureDomidAny;

    private readonly object _lock = new();
    private readonly HypervisorLog? _log;
    private readonly Func<uint, bool> _domainExists;
    private readonly Dictionary<string, StoreNode> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, int> _nodeCounts = new();
    private readonly Dictionary<uint, StoreDomain> _domains = new();
    private readonly List<StoreConnection> _connections = new();
    private readonly HashSet<StoreConnection> _dirty = new();
    private readonly StoreConnection _system = new(0, privileged: true, transport: null);
    private ulong _generation;
    private uint _nextRequestId;

    /// <param name="log">Where protocol violations and store trouble are reported (rate-limited); null: nowhere.</param>
    /// <param name="domainExists">
    /// Whether a domain id names an existing domain, for permission entries (entries naming no domain are ignored, an
    /// owner naming none is ENOENT). Null: every ordinary domain id (below DOMID_FIRST_RESERVED) exists.
    /// </param>
    public XenStore(HypervisorLog? log = null, Func<uint, bool>? domainExists = null)
    {
        _log = log;
        _domainExists = domainExists ?? (static d => d < XenstoreLayout.DomidSelf);
        var none0 = new[] { XsPermission.None(0) };
        AddInitialNode("/", none0, "tool");
        AddInitialNode("/tool", none0, "xenstored");
        AddInitialNode("/tool/xenstored", none0);
        AddInitialNode(SpecialRelease, [XsPermission.None(0), XsPermission.Any(XsAccess.Read)]);
        AddInitialNode(SpecialIntroduce, none0);
    }

    public const string SpecialIntroduce = "@introduceDomain";
    public const string SpecialRelease = "@releaseDomain";

    /// <summary>Requests one pass reads from a connection before handing the rest to a thread-pool pass.</summary>
    internal int MessagesPerPass { get; set; } = DefaultMessagesPerPass;

    /// <summary>The quotas domains get when the store first sees them (GET_QUOTA/SET_QUOTA without a domain id).</summary>
    public StoreQuota Quota { get; } = new();

    /// <summary>A client inside the host process acting as <paramref name="domid"/> (domain 0: privileged, as the toolstack).</summary>
    public XsClient Connect(uint domid = 0)
    {
        lock (_lock)
        {
            var c = new StoreConnection(domid, privileged: domid == 0, transport: null);
            _connections.Add(c);
            return new XsClient(this, c);
        }
    }

    /// <summary>A client of the host socket: privileged, as domain 0's tools are.</summary>
    internal StoreConnection ConnectSocket(IStoreTransport transport)
    {
        lock (_lock)
        {
            var c = new StoreConnection(0, privileged: true, transport);
            _connections.Add(c);
            return c;
        }
    }

    /// <summary>
    /// XS_INTRODUCE from the toolstack: the store starts serving <paramref name="domid"/> on its ring page, notifying
    /// it through <paramref name="notify"/>, writes the server features into the page and fires @introduceDomain.
    /// </summary>
    internal StoreConnection Introduce(uint domid, IStorePage page, Action notify)
    {
        lock (_lock)
        {
            StoreDomain d = GetDomain(domid);
            if (d.Introduced)
            {
                throw new InvalidOperationException($"d{domid} is already introduced to the store");
            }

            var ring = new StoreRing(page, notify, d.Features);
            ring.Connect(d.Features);
            var c = new StoreConnection(domid, privileged: domid == 0, ring);
            d.Connection = c;
            d.Introduced = true;
            _connections.Add(c);
            if (domid != 0)
            {
                FireSpecial(SpecialIntroduce, domid);
            }

            Pump(c);
            FlushDirty();
            return c;
        }
    }

    /// <summary>
    /// The domain is gone (xenstored's destroy_domain): its connections close, the nodes it owns are removed (with watch
    /// events), its entries disappear from other nodes' permissions, and @releaseDomain fires if it had been introduced.
    /// The toolstack removes the domain's own paths before this, as libxl does.
    /// </summary>
    public void Release(uint domid)
    {
        lock (_lock)
        {
            bool introduced = _domains.TryGetValue(domid, out StoreDomain? d) && d.Introduced;
            foreach (StoreConnection c in _connections.Where(c => c.Domid == domid).ToList())
            {
                Close(c);
            }

            RemoveDomainNodes(domid);
            _domains.Remove(domid);
            if (introduced)
            {
                FireSpecial(SpecialRelease, domid);
            }

            FlushDirty();
        }
    }

    /// <summary>Open connections of every kind (tests watch clients come and go).</summary>
    internal int ConnectionCount
    {
        get
        {
            lock (_lock)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>Whether <paramref name="domid"/> has a ring connection (XS_IS_DOMAIN_INTRODUCED).</summary>
    public bool IsIntroduced(uint domid)
    {
        lock (_lock)
        {
            return _domains.TryGetValue(domid, out StoreDomain? d) && d.Introduced;
        }
    }

    /// <summary>
    /// The guest notified its store port (the backend loop runs this) or a queued pass runs: take what its ring holds, answer,
    /// and deliver output and events to every connection that got some. Never throws.
    /// </summary>
    internal void Service(StoreConnection c)
    {
        lock (_lock)
        {
            Pump(c);
            FlushDirty();
        }
    }

    /// <summary>In-process request: processes it at once and returns the reply (events stay queued for the client).</summary>
    internal (XsMessageType Type, byte[] Payload) Request(StoreConnection c, XsMessageType type, uint txId, byte[] payload)
    {
        lock (_lock)
        {
            if (c.Closed)
            {
                return (XsMessageType.Error, Encoding.ASCII.GetBytes("EIO\0"));
            }

            uint reqId = ++_nextRequestId;
            Process(new XsRequest(c, type, reqId, txId, payload));
            (XsMessageType, byte[]) reply = (XsMessageType.Error, Encoding.ASCII.GetBytes("EIO\0"));
            for (LinkedListNode<OutMessage>? m = c.Output.First; m is not null; m = m.Next)
            {
                if (!m.Value.IsEvent)
                {
                    byte[] bytes = m.Value.Bytes;
                    reply = ((XsMessageType)BinaryPrimitives.ReadUInt32LittleEndian(bytes), bytes[XenstoreLayout.HeaderSize..]);
                    c.Remove(m);
                    break;
                }
            }

            FlushDirty();
            return reply;
        }
    }

    /// <summary>Takes the watch events queued for an in-process client, oldest first.</summary>
    internal List<(string Path, string Token)> TakeEvents(StoreConnection c)
    {
        lock (_lock)
        {
            var events = new List<(string, string)>();
            LinkedListNode<OutMessage>? m = c.Output.First;
            while (m is not null)
            {
                LinkedListNode<OutMessage>? next = m.Next;
                if (m.Value.EventKey is { } key)
                {
                    int nul = key.IndexOf('\0', StringComparison.Ordinal);
                    events.Add((key[..nul], key[(nul + 1)..]));
                    c.Remove(m);
                }

                m = next;
            }

            return events;
        }
    }

    /// <summary>An in-process client goes away: its watches and transactions with it.</summary>
    internal void Disconnect(StoreConnection c)
    {
        lock (_lock)
        {
            Close(c);
        }
    }

    /// <summary>Reads and processes what the connection's ring holds; writes its output. Caller holds the lock.</summary>
    private void Pump(StoreConnection c)
    {
        if (c.Closed || c.Transport is not { } transport)
        {
            return;
        }

        try
        {
            bool moved = FlushOutput(c);
            int budget = MessagesPerPass;
            while (!c.Closed && CanRead(c))
            {
                if (budget == 0)
                {
                    QueueContinuation(c);
                    break;
                }

                int got = ReadMessage(c, transport, out XsRequest? request);
                if (got < 0)
                {
                    Break(c, (uint)-got, got == -(int)XenstoreLayout.ErrorProto ? "payload longer than 4096 bytes" : "ring indexes out of range");
                    return;
                }

                moved |= got > 0;
                if (request is null)
                {
                    break;
                }

                budget--;
                Process(request);
                moved |= FlushOutput(c);
            }

            if (moved && !c.Closed)
            {
                transport.Notify();
            }
        }
        catch (Exception e)
        {
            // A bug in the store, not the guest's doing; the guest loses its connection rather than the host its thread.
            Break(c, XenstoreLayout.ErrorComm, $"internal error {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>
    /// Reads the next message's bytes: the 16-byte header, then its payload. Returns the bytes consumed, or a negative
    /// XENSTORE_ERROR_* value; <paramref name="request"/> is set once a message is complete.
    /// </summary>
    private static int ReadMessage(StoreConnection c, IStoreTransport transport, out XsRequest? request)
    {
        request = null;
        int consumed = 0;
        if (c.Body is null)
        {
            int n = transport.Read(c.Header.AsSpan(c.HeaderUsed));
            if (n < 0)
            {
                return n;
            }

            c.HeaderUsed += n;
            consumed = n;
            if (c.HeaderUsed < XenstoreLayout.HeaderSize)
            {
                return consumed;
            }

            uint len = BinaryPrimitives.ReadUInt32LittleEndian(c.Header.AsSpan(12));
            if (len > XenstoreLayout.PayloadMax)
            {
                return -(int)XenstoreLayout.ErrorProto;
            }

            c.Body = len == 0 ? [] : new byte[len];
            c.BodyUsed = 0;
        }

        int m = transport.Read(c.Body.AsSpan(c.BodyUsed));
        if (m < 0)
        {
            return m;
        }

        c.BodyUsed += m;
        consumed += m;
        if (c.BodyUsed < c.Body.Length)
        {
            return consumed;
        }

        Span<byte> h = c.Header;
        request = new XsRequest(
            c,
            (XsMessageType)BinaryPrimitives.ReadUInt32LittleEndian(h),
            BinaryPrimitives.ReadUInt32LittleEndian(h[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(h[8..]),
            c.Body);
        c.Body = null;
        c.HeaderUsed = 0;
        return consumed;
    }

    /// <summary>Writes queued output to the connection's ring as far as it has room. Returns whether bytes moved.</summary>
    private bool FlushOutput(StoreConnection c)
    {
        if (c.Closed || c.Transport is not { } transport)
        {
            return false;
        }

        bool moved = false;
        while (c.Output.First is { } first)
        {
            OutMessage m = first.Value;
            int n = transport.Write(m.Bytes.AsSpan(c.OutputOffset));
            if (n < 0)
            {
                Break(c, (uint)-n, "response ring indexes out of range");
                return moved;
            }

            if (n == 0)
            {
                break;
            }

            moved = true;
            c.OutputOffset += n;
            if (c.OutputOffset < m.Bytes.Length)
            {
                break;
            }

            c.Remove(first);
            c.OutputOffset = 0;
        }

        return moved;
    }

    /// <summary>Delivers the output that processing queued for other connections, and notifies each one that got bytes.</summary>
    private void FlushDirty()
    {
        while (_dirty.Count > 0)
        {
            StoreConnection[] dirty = _dirty.ToArray();
            _dirty.Clear();
            foreach (StoreConnection c in dirty)
            {
                if (FlushOutput(c) && !c.Closed)
                {
                    c.Transport!.Notify();
                }
            }
        }
    }

    private bool CanRead(StoreConnection c) => !Exceeds(c, QuotaItem.Outstanding, c.QueuedReplies);

    private void QueueContinuation(StoreConnection c)
    {
        if (c.ContinuationQueued)
        {
            return;
        }

        c.ContinuationQueued = true;
        ThreadPool.UnsafeQueueUserWorkItem(
            static s =>
            {
                (XenStore store, StoreConnection conn) = s;
                lock (store._lock)
                {
                    conn.ContinuationQueued = false;
                }

                store.Service(conn);
            },
            (this, c),
            preferLocal: false);
    }

    /// <summary>
    /// Gives the connection up after a framing error (xenstored's ignore_connection): the ring's error field says why,
    /// and its watches, transactions and output go. The domain stays introduced until it is released.
    /// </summary>
    private void Break(StoreConnection c, uint error, string why)
    {
        if (c.Closed)
        {
            return;
        }

        _log?.Limited($"xenstore-broken-{c.Domid}", $"(d{c.Domid}) xenstore: {why}; connection closed (error {error})");
        c.Transport?.Break(error);
        Close(c);
    }

    private void Close(StoreConnection c)
    {
        c.Closed = true;
        c.Watches.Clear();
        c.Transactions.Clear();
        c.Output.Clear();
        c.WaitingEvents.Clear();
        c.OutputOffset = 0;
        c.QueuedReplies = 0;
        c.QueuedEventBytes = 0;
        c.Body = null;
        c.HeaderUsed = 0;
        _connections.Remove(c);
        _dirty.Remove(c);
        if (_domains.TryGetValue(c.Domid, out StoreDomain? d) && d.Connection == c)
        {
            d.Connection = null;
        }
    }

    private StoreDomain GetDomain(uint domid)
    {
        if (!_domains.TryGetValue(domid, out StoreDomain? d))
        {
            d = new StoreDomain(domid, SupportedFeatures, Quota.Clone());
            _domains.Add(domid, d);
        }

        return d;
    }

    private bool DomainExists(uint domid) => domid == 0 || _domainExists(domid) || (_domains.TryGetValue(domid, out StoreDomain? d) && d.Introduced);

    private uint FeaturesOf(StoreConnection c) => _domains.TryGetValue(c.Domid, out StoreDomain? d) ? d.Features : SupportedFeatures;

    /// <summary>Whether <paramref name="value"/> reaches the connection's quota; privileged connections have none.</summary>
    private bool Exceeds(StoreConnection c, QuotaItem item, long value) =>
        !c.IsPrivileged && (_domains.TryGetValue(c.Domid, out StoreDomain? d) ? d.Quota : Quota).Exceeds(item, value);

    private void AddInitialNode(string name, XsPermission[] permissions, params string[] children)
    {
        var node = new StoreNode(name, [], (XsPermission[])permissions.Clone(), [.. children]) { Generation = ++_generation };
        _nodes.Add(name, node);
        CountNode(node.Owner, +1);
    }

    private void CountNode(uint owner, int delta)
    {
        _nodeCounts.TryGetValue(owner, out int n);
        _nodeCounts[owner] = n + delta;
    }
}
