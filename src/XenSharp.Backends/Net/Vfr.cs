namespace XenSharp.Backends.Net;

/// <summary>
/// The virtual firewall-router (the paper's VFR): one per host, switching Ethernet frames between its ports in process
/// — VIFs and the uplink — learning which port each source MAC is behind, flooding broadcast, multicast and unknown
/// destinations to every other port, and applying each port's ordered rules to what it sends and what it is given.
/// <para>
/// Invariants: a frame is parsed once, before anything else, and a malformed one is dropped and counted at its sender;
/// a frame never goes back out of the port it came in by; the MAC table holds at most <see cref="MaxLearned"/> entries
/// (a flood of made-up source MACs stops learning, it does not grow the table) and forgets a port's entries when it
/// detaches. <see cref="_lock"/> guards the port list and the MAC table only, and is never held while an endpoint
/// is called: <see cref="IVfrEndpoint.Deliver"/> runs on the sender's thread after the lock is released.
/// </para>
/// </summary>
public sealed class Vfr
{
    public const int MaxLearned = 4096;

    private readonly object _lock = new();
    private readonly List<VfrPort> _ports = new();
    private readonly Dictionary<ulong, VfrPort> _macs = new();

    /// <summary>Adds a port whose frames go to <paramref name="endpoint"/>.</summary>
    public VfrPort Attach(string name, IVfrEndpoint endpoint)
    {
        var port = new VfrPort(this, name, endpoint);
        lock (_lock)
        {
            _ports.Add(port);
        }

        return port;
    }

    public IReadOnlyList<VfrPort> Ports
    {
        get
        {
            lock (_lock)
            {
                return _ports.ToArray();
            }
        }
    }

    /// <summary>The port a MAC was last seen behind, if learned.</summary>
    public VfrPort? Lookup(ulong mac)
    {
        lock (_lock)
        {
            return _macs.GetValueOrDefault(mac);
        }
    }

    internal void Detach(VfrPort port)
    {
        lock (_lock)
        {
            port.Detached = true;
            _ports.Remove(port);
            foreach (ulong mac in _macs.Where(kv => kv.Value == port).Select(kv => kv.Key).ToArray())
            {
                _macs.Remove(mac);
            }
        }
    }

    internal bool Forward(VfrPort from, NetPacket packet)
    {
        if (!VfrFrame.TryParse(packet.Frame, out VfrFrame frame))
        {
            Interlocked.Increment(ref from.Counters.DroppedMalformed);
            return false;
        }

        if (!from.Allows(VfrDirection.FromVif, frame))
        {
            Interlocked.Increment(ref from.Counters.DroppedByRule);
            return false;
        }

        VfrPort[] targets;
        lock (_lock)
        {
            if (from.Detached)
            {
                return false;
            }

            bool unicastSource = (frame.Source & 0x0100_0000_0000) == 0;
            if (unicastSource && (_macs.ContainsKey(frame.Source) || _macs.Count < MaxLearned))
            {
                _macs[frame.Source] = from;
            }

            targets = !frame.IsGroup && _macs.TryGetValue(frame.Destination, out VfrPort? known)
                ? (known == from ? [] : [known])
                : _ports.Where(p => p != from).ToArray();
        }

        Interlocked.Increment(ref from.Counters.SentFrames);
        Interlocked.Add(ref from.Counters.SentBytes, packet.Length);
        bool delivered = false;
        foreach (VfrPort to in targets)
        {
            if (!to.Allows(VfrDirection.ToVif, frame))
            {
                Interlocked.Increment(ref to.Counters.DroppedByRule);
            }
            else if (!to.Endpoint.Deliver(packet))
            {
                Interlocked.Increment(ref to.Counters.DroppedFull);
            }
            else
            {
                Interlocked.Increment(ref to.Counters.ReceivedFrames);
                Interlocked.Add(ref to.Counters.ReceivedBytes, packet.Length);
                delivered = true;
            }
        }

        return delivered;
    }
}
