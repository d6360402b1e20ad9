using XenSharp.Hypervisor;

namespace XenSharp.Backends.Net;

/// <summary>
/// The network backend of one VIF (xen-netback's xenvif): its queues (<see cref="NetbackQueue"/>, each on its own loop)
/// and its port on the host's <see cref="Vfr"/>. A xenbus layer connects it with what the frontend wrote
/// (<see cref="NetbackConfig"/>) and disposes it when the device closes; nothing here reads the store.
/// <para>
/// Packets from the guest go to <see cref="Port"/>; packets the VFR switches to the VIF (<see cref="Deliver"/>) go to
/// one queue, chosen by a hash of the flow (addresses, protocol, ports) so a flow stays in order. A fatal protocol error
/// on any queue shuts the whole VIF, as xenvif_fatal_tx_err disables the device: its queues stop, its port leaves the
/// VFR, <see cref="Disabled"/> says why, and <see cref="FatalError"/> tells the xenbus layer (once, on the queue's
/// loop). Nothing of it touches another domain.
/// </para>
/// </summary>
public sealed class Netback : IVfrEndpoint, IDisposable
{
    private readonly XenHypervisor _hv;
    private readonly List<NetbackQueue> _queues = new();
    private VfrPort? _port;
    private string? _disabled;
    private int _limitedLogs;

    private Netback(XenHypervisor hv, NetbackConfig config)
    {
        _hv = hv;
        Config = config;
    }

    public NetbackConfig Config { get; }

    /// <summary>The VIF's port on the VFR (its rules and counters).</summary>
    public VfrPort Port => Volatile.Read(ref _port) ?? throw new InvalidOperationException("not connected yet");

    /// <summary>The port, or null while <see cref="Connect"/> has not attached it yet (a queue's early pass).</summary>
    internal VfrPort? PortOrNull => Volatile.Read(ref _port);

    public NetbackCounters Counters { get; } = new();

    /// <summary>Why the VIF was shut by a fatal error; null while it serves.</summary>
    public string? Disabled => Volatile.Read(ref _disabled);

    /// <summary>Raised once, with the reason, when a fatal error shuts the VIF — on the queue's loop, inside its pass: it must
    /// not block nor dispose the VIF (post the teardown to the xenbus layer's own thread).</summary>
    public event Action<Netback, string>? FatalError;

    public int QueueCount => _queues.Count;

    /// <summary>
    /// Connects a VIF: maps each queue's rings, binds its ports, starts its loop and attaches the VIF to
    /// <paramref name="vfr"/> as port <see cref="NetbackConfig.Name"/>. Throws <see cref="NetbackConnectException"/>
    /// (with nothing left mapped or bound) when the config cannot be served.
    /// </summary>
    public static Netback Connect(XenHypervisor hypervisor, NetbackConfig config, Vfr vfr) => Connect(hypervisor, config, vfr, ownThread: true);

    /// <param name="ownThread">false (tests): the queues' loops have no thread; <see cref="QueueLoop"/>.RunPending() runs a pass.</param>
    internal static Netback Connect(XenHypervisor hypervisor, NetbackConfig config, Vfr vfr, bool ownThread)
    {
        if (!config.Features.RxCopy)
        {
            throw new NetbackConnectException($"{config.Name}: the frontend does not offer feature-rx-copy (rx by page flipping is not served)");
        }

        if (config.Queues.Count is 0 or > NetbackConfig.MaxQueues)
        {
            throw new NetbackConnectException($"{config.Name}: {config.Queues.Count} queues requested; 1 to {NetbackConfig.MaxQueues} are served");
        }

        var vif = new Netback(hypervisor, config);
        try
        {
            for (int i = 0; i < config.Queues.Count; i++)
            {
                vif._queues.Add(NetbackQueue.Connect(vif, hypervisor, i, config.Queues[i], ownThread));
            }
        }
        catch
        {
            vif.DisposeQueues();
            throw;
        }

        Volatile.Write(ref vif._port, vfr.Attach(config.Name, vif));
        foreach (NetbackQueue q in vif._queues)
        {
            q.Notify(); // serve what the frontend queued before connecting (a pass before this found no port and waited)
        }

        return vif;
    }

    /// <summary>A packet the VFR switched to this VIF: queued on its flow's queue, or refused when that queue is full.</summary>
    /// <remarks>A GSO packet of a type the frontend did not negotiate is cut into segments here (software GSO).</remarks>
    public bool Deliver(NetPacket packet)
    {
        NetbackQueue q = _queues[QueueFor(packet)];
        if (!packet.IsGso || AcceptsGso(packet.GsoType))
        {
            return q.Enqueue(packet);
        }

        List<NetPacket>? segments = NetSegmenter.Segment(packet);
        if (segments is null)
        {
            Interlocked.Increment(ref Counters.RxUnfitCount);
            return false;
        }

        bool all = true;
        foreach (NetPacket s in segments)
        {
            all &= q.Enqueue(s);
        }

        return all;
    }

    internal bool AcceptsGso(byte type) =>
        type == Abi.NetifExtra.GsoTypeTcpV4 ? Config.Features.GsoTcpV4 : type == Abi.NetifExtra.GsoTypeTcpV6 && Config.Features.GsoTcpV6;

    /// <summary>The loop of queue <paramref name="index"/> (tests run passes by hand).</summary>
    internal BackendLoop QueueLoop(int index) => _queues[index].Loop;

    internal int InboundCount(int index) => _queues[index].InboundCount;

    /// <summary>Runs every pending pass of every queue until none is pending (tests, loops without threads).</summary>
    internal void RunPending()
    {
        bool ran;
        do
        {
            ran = false;
            foreach (NetbackQueue q in _queues)
            {
                ran |= q.Loop.RunPending();
            }
        }
        while (ran);
    }

    public void Dispose()
    {
        PortOrNull?.Dispose();
        DisposeQueues();
    }

    internal void Fatal(string why)
    {
        if (Interlocked.CompareExchange(ref _disabled, why, null) is not null)
        {
            return;
        }

        Interlocked.Increment(ref Counters.FatalCount);
        _hv.Log.Domain(Config.FrontendDomid, $"{Config.Name}: fatal error, disabling the device: {why}");
        foreach (NetbackQueue q in _queues)
        {
            q.Shut();
        }

        PortOrNull?.Dispose();
        FatalError?.Invoke(this, why);
    }

    /// <summary>Logs a per-packet error, the first few only (a guest can make them at line rate).</summary>
    internal void LogLimited(string what)
    {
        if (Interlocked.Increment(ref _limitedLogs) <= 5)
        {
            _hv.Log.Domain(Config.FrontendDomid, $"{Config.Name}: {what}");
        }
    }

    private int QueueFor(NetPacket packet)
    {
        if (_queues.Count == 1 || !VfrFrame.TryParse(packet.Frame, out VfrFrame f) || !f.IsIpv4)
        {
            return 0;
        }

        uint h = f.SourceIp ^ f.DestinationIp ^ f.IpProtocol ^ (((uint)f.SourcePort << 16) | f.DestinationPort);
        h ^= h >> 16;
        h *= 0x7feb352d;
        h ^= h >> 15;
        return (int)(h % (uint)_queues.Count);
    }

    private void DisposeQueues()
    {
        foreach (NetbackQueue q in _queues)
        {
            q.Dispose();
        }
    }
}
