using System.Globalization;
using XenSharp.Backends.Xenbus;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;

namespace XenSharp.Backends.Net;

/// <summary>
/// The xenbus side of one VIF (xen-netback's xenbus.c): at probe it writes the features netback offers (io/netif.h),
/// and when the frontend is Initialised or Connected it reads what netfront wrote — tx-ring-ref, rx-ring-ref and
/// event-channel (or event-channel-tx and event-channel-rx), each under queue-N when multi-queue-num-queues is above 1,
/// and the rx feature nodes — and connects a <see cref="Netback"/> to the host's <see cref="Vfr"/>. The handshake is
/// <see cref="XenbusBackend"/>'s: Closing/Closed or dispose drops the Netback (its port leaves the VFR).
/// <para>
/// Invariants: the store is read and the Netback connected or dropped only on this device's own loop (a
/// <see cref="BackendLoop"/> polling the store's watch events), under <see cref="_lock"/> (attach and teardown are
/// <see cref="XenbusDevice"/>'s, as for every split device); a Netback's fatal error, raised on one of its queue loops,
/// only records the reason and posts, and the xenbus layer goes to Closing on its own loop. The traffic of a Netback
/// that was dropped is kept in <see cref="_closedTraffic"/>, so the VIF's totals survive a reconnect.
/// </para>
/// </summary>
public sealed class VifBackend : IXenbusDriver, IDisposable
{
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMilliseconds(10);

    private readonly object _lock = new();
    private readonly XenHypervisor _hv;
    private readonly Vfr _vfr;
    private readonly int _handle;
    private readonly bool _ownThread;
    private readonly IReadOnlyList<VfrRule> _rules;
    private XenbusDevice _device = null!;
    private XenbusBackend _xenbus = null!;
    private Netback? _netback;
    private string? _fatal;
    private (long TxBytes, long RxBytes) _closedTraffic;

    private VifBackend(XenHypervisor hv, Vfr vfr, int handle, bool ownThread, IReadOnlyList<VfrRule> rules)
    {
        _rules = rules;
        _hv = hv;
        _vfr = vfr;
        _handle = handle;
        _ownThread = ownThread;
    }

    /// <summary>The handshake (its state is the backend's state node).</summary>
    public XenbusBackend Xenbus => _xenbus;

    /// <summary>The connected VIF, or null while the frontend has not connected (or after it closed).</summary>
    public Netback? Netback
    {
        get
        {
            lock (_lock)
            {
                return _netback;
            }
        }
    }

    /// <summary>
    /// Bytes the guest sent (netback's tx) and received (rx) through this VIF since it was attached, across reconnects
    /// (xentop's NETTX and NETRX).
    /// </summary>
    public (long TxBytes, long RxBytes) Traffic
    {
        get
        {
            lock (_lock)
            {
                return _netback is { } vif
                    ? (_closedTraffic.TxBytes + vif.Counters.TxBytes, _closedTraffic.RxBytes + vif.Counters.RxBytes)
                    : _closedTraffic;
            }
        }
    }

    /// <summary>
    /// Starts serving the VIF whose backend nodes the toolstack wrote at <paramref name="backendPath"/> (its handle
    /// node names the VIF): writes the feature nodes, goes to InitWait and follows the frontend from then on. The VIF's
    /// VFR port gets <paramref name="rules"/> when it connects, before the backend says Connected (so before netfront
    /// sends anything).
    /// </summary>
    public static VifBackend Attach(XenHypervisor hv, XenStore store, string backendPath, Vfr vfr, IReadOnlyList<VfrRule>? rules = null) =>
        Attach(hv, store, backendPath, vfr, DefaultPollInterval, ownThread: true, rules);

    /// <param name="ownThread">false (tests): neither this loop nor the Netback's have threads; passes run through <see cref="Service"/> and <see cref="Net.Netback"/>.RunPending().</param>
    internal static VifBackend Attach(XenHypervisor hv, XenStore store, string backendPath, Vfr vfr, TimeSpan poll, bool ownThread, IReadOnlyList<VfrRule>? rules = null)
    {
        string? handleText;
        using (XsClient client = store.Connect(0))
        {
            handleText = client.Read($"{backendPath}/handle");
        }

        int handle = int.TryParse(handleText, NumberStyles.None, CultureInfo.InvariantCulture, out int h)
            ? h
            : int.TryParse(backendPath[(backendPath.LastIndexOf('/') + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out h) ? h : 0;
        var backend = new VifBackend(hv, vfr, handle, ownThread, rules ?? []);
        XenbusDevice.Attach(store, backendPath, backend, hv.Log, backend._lock, backend.Pass, device =>
        {
            backend._device = device;
            backend._xenbus = device.Xenbus;
            return $"vif d{device.Xenbus.FrontendId}.{handle}";
        }, poll, ownThread);
        return backend;
    }

    /// <summary>One pass: a fatal error a queue reported, then the store's watch events. Any thread; serialised.</summary>
    internal void Service() => _device.Pass();

    // A pass, under _lock (XenbusDevice.Pass).
    private void Pass()
    {
        if (Interlocked.Exchange(ref _fatal, null) is { } why)
        {
            _xenbus.Fatal(why);
        }

        _xenbus.Poll();
    }

    void IXenbusDriver.Probe(XenbusBackend device, uint tx)
    {
        (string, string)[] nodes =
        [
            ("feature-sg", "1"),
            ("feature-gso-tcpv4", "1"),
            ("feature-gso-tcpv6", "1"),
            ("feature-ipv6-csum-offload", "1"),
            ("feature-rx-copy", "1"),
            ("feature-rx-flip", "0"),
            ("feature-multicast-control", "0"),
            ("feature-dynamic-multicast-control", "0"),
            ("feature-split-event-channels", "1"),
            ("multi-queue-max-queues", Number(NetbackConfig.MaxQueues)),
        ];
        foreach ((string key, string value) in nodes)
        {
            device.Store.Write($"{device.BackendPath}/{key}", value, tx);
        }
    }

    string? IXenbusDriver.Connect(XenbusBackend device)
    {
        XsClient xs = device.Store;
        string fe = device.FrontendPath;
        int queues = 1;
        string? queuesText = xs.Read($"{fe}/multi-queue-num-queues");
        if (queuesText is not null && (!int.TryParse(queuesText, NumberStyles.None, CultureInfo.InvariantCulture, out queues) || queues < 1 || queues > NetbackConfig.MaxQueues))
        {
            return $"guest requested {queuesText} queues, exceeding the maximum of {NetbackConfig.MaxQueues}.";
        }

        if (xs.Read($"{fe}/request-rx-copy") != "1")
        {
            return $"{fe}/request-rx-copy is not 1: receiving by page flipping is not supported";
        }

        var features = new NetbackFeatures(
            RxCopy: true,
            RxNotify: Flag(xs, $"{fe}/feature-rx-notify", true),
            Sg: Flag(xs, $"{fe}/feature-sg", false),
            GsoTcpV4: Flag(xs, $"{fe}/feature-gso-tcpv4", false) || Flag(xs, $"{fe}/feature-gso-tcpv4-prefix", false),
            GsoTcpV6: Flag(xs, $"{fe}/feature-gso-tcpv6", false) || Flag(xs, $"{fe}/feature-gso-tcpv6-prefix", false),
            CsumOffload: !Flag(xs, $"{fe}/feature-no-csum-offload", false));

        var configs = new List<NetbackQueueConfig>();
        for (int q = 0; q < queues; q++)
        {
            string dir = queues == 1 ? fe : $"{fe}/queue-{q}";
            if (ReadQueue(xs, dir) is not { } config)
            {
                return $"reading the rings and event channels under {dir}";
            }

            configs.Add(config);
        }

        try
        {
            Netback vif = Net.Netback.Connect(_hv, new NetbackConfig(device.FrontendId, _handle, features, configs), _vfr, _ownThread);
            vif.Port.SetRules(_rules);
            vif.FatalError += OnFatal;
            _netback = vif;
            return null;
        }
        catch (NetbackConnectException e)
        {
            return e.Message;
        }
    }

    void IXenbusDriver.Disconnect()
    {
        if (_netback is { } vif)
        {
            vif.FatalError -= OnFatal;
            vif.Dispose();
            _closedTraffic = (_closedTraffic.TxBytes + vif.Counters.TxBytes, _closedTraffic.RxBytes + vif.Counters.RxBytes);
            _netback = null;
        }
    }

    /// <summary>Tears the VIF down (<see cref="XenbusDevice.Dispose"/>): its Netback dropped, so its port leaves the VFR.</summary>
    public void Dispose() => _device.Dispose();

    private void OnFatal(Netback vif, string why)
    {
        Interlocked.CompareExchange(ref _fatal, why, null);
        _device.Post();
    }

    private static NetbackQueueConfig? ReadQueue(XsClient xs, string dir)
    {
        if (Uint(xs, $"{dir}/tx-ring-ref") is not { } tx || Uint(xs, $"{dir}/rx-ring-ref") is not { } rx)
        {
            return null;
        }

        if (Uint(xs, $"{dir}/event-channel") is { } port)
        {
            return new NetbackQueueConfig(tx, rx, (int)port);
        }

        return Uint(xs, $"{dir}/event-channel-tx") is { } txPort && Uint(xs, $"{dir}/event-channel-rx") is { } rxPort
            ? new NetbackQueueConfig(tx, rx, (int)txPort, (int)rxPort)
            : null;
    }

    private static uint? Uint(XsClient xs, string path) =>
        uint.TryParse(xs.Read(path), NumberStyles.None, CultureInfo.InvariantCulture, out uint v) && v <= int.MaxValue ? v : null;

    /// <summary>A feature node: absent means <paramref name="absent"/>, otherwise any non-zero number is on (xenbus_read_unsigned).</summary>
    private static bool Flag(XsClient xs, string path, bool absent) =>
        xs.Read(path) is not { } text ? absent : uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out uint v) && v != 0;

    private static string Number(int n) => n.ToString(CultureInfo.InvariantCulture);
}
