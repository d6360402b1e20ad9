using XenSharp.Abi;

namespace XenSharp.Backends.Net;

/// <summary>
/// One Ethernet frame in flight between VFR ports, with its offload metadata. Immutable once made: the VFR hands the
/// same instance to every port a frame floods to, so no port may write <see cref="Frame"/>.
/// </summary>
public sealed class NetPacket
{
    /// <summary>The largest frame a port carries: netif's XEN_NETIF_MAX_TX_SIZE (a GSO frame may be that large).</summary>
    public const int MaxFrame = NetifLayout.MaxTxSize;

    public NetPacket(byte[] frame, NetOffload offload = NetOffload.None, byte gsoType = NetifExtra.GsoTypeNone, ushort gsoSize = 0)
    {
        Frame = frame;
        Offload = offload;
        GsoType = gsoType;
        GsoSize = gsoSize;
    }

    public byte[] Frame { get; }

    public int Length => Frame.Length;

    public NetOffload Offload { get; }

    /// <summary>XEN_NETIF_GSO_TYPE_*: none, or a TCP super-frame to be cut into <see cref="GsoSize"/>-byte segments.</summary>
    public byte GsoType { get; }

    public ushort GsoSize { get; }

    public bool IsGso => GsoType != NetifExtra.GsoTypeNone;
}
