using XenSharp.Backends.Net;

namespace XenSharp.Tests.Net;

/// <summary>A VFR endpoint that keeps what it is given, up to <paramref name="capacity"/> packets (then refuses).</summary>
internal sealed class CapturingEndpoint(int capacity = int.MaxValue) : IVfrEndpoint
{
    private readonly List<NetPacket> _packets = new();

    public IReadOnlyList<NetPacket> Packets
    {
        get
        {
            lock (_packets)
            {
                return _packets.ToArray();
            }
        }
    }

    public bool Deliver(NetPacket packet)
    {
        lock (_packets)
        {
            if (_packets.Count >= capacity)
            {
                return false;
            }

            _packets.Add(packet);
            return true;
        }
    }
}
