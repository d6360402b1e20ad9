using System.Buffers.Binary;

namespace XenSharp.Backends.Net;

/// <summary>
/// What the VFR reads of a frame: MACs, EtherType and, for IPv4, addresses, protocol and TCP/UDP ports. Parsing never
/// throws and never reads past the frame; a frame too short for Ethernet, or an IPv4 header whose IHL is under 5, whose
/// total length is shorter than its header or longer than the frame, or a first TCP/UDP fragment too short for its
/// ports, is malformed.
/// </summary>
internal readonly struct VfrFrame
{
    public const int EthernetHeader = 14;
    public const ushort EtherTypeIpv4 = 0x0800;
    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;

    public ulong Destination { get; init; }

    public ulong Source { get; init; }

    public ushort EtherType { get; init; }

    public bool IsIpv4 { get; init; }

    public byte IpProtocol { get; init; }

    public uint SourceIp { get; init; }

    public uint DestinationIp { get; init; }

    /// <summary>A TCP/UDP header with ports is present (not a later fragment).</summary>
    public bool HasPorts { get; init; }

    public ushort SourcePort { get; init; }

    public ushort DestinationPort { get; init; }

    /// <summary>Offset of the IPv4 header's end (the L4 header) when <see cref="IsIpv4"/>.</summary>
    public int L4Offset { get; init; }

    /// <summary>The end of the IPv4 packet (14 + total length) when <see cref="IsIpv4"/>.</summary>
    public int IpEnd { get; init; }

    /// <summary>Group bit of the destination MAC: broadcast or multicast.</summary>
    public bool IsGroup => (Destination & 0x0100_0000_0000) != 0;

    public static bool TryParse(ReadOnlySpan<byte> frame, out VfrFrame parsed)
    {
        parsed = default;
        if (frame.Length < EthernetHeader)
        {
            return false;
        }

        ulong dst = Mac(frame[..6]);
        ulong src = Mac(frame[6..12]);
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (type != EtherTypeIpv4)
        {
            parsed = new VfrFrame { Destination = dst, Source = src, EtherType = type };
            return true;
        }

        ReadOnlySpan<byte> ip = frame[EthernetHeader..];
        if (ip.Length < 20 || ip[0] >> 4 != 4)
        {
            return false;
        }

        int ihl = (ip[0] & 0xf) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (ihl < 20 || total < ihl || total > ip.Length)
        {
            return false;
        }

        byte protocol = ip[9];
        bool firstFragment = (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x1fff) == 0;
        bool ports = firstFragment && (protocol == Tcp || protocol == Udp);
        if (ports && total - ihl < (protocol == Tcp ? 20 : 8))
        {
            return false;
        }

        parsed = new VfrFrame
        {
            Destination = dst,
            Source = src,
            EtherType = type,
            IsIpv4 = true,
            IpProtocol = protocol,
            SourceIp = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]),
            DestinationIp = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]),
            HasPorts = ports,
            SourcePort = ports ? BinaryPrimitives.ReadUInt16BigEndian(ip[ihl..]) : (ushort)0,
            DestinationPort = ports ? BinaryPrimitives.ReadUInt16BigEndian(ip[(ihl + 2)..]) : (ushort)0,
            L4Offset = EthernetHeader + ihl,
            IpEnd = EthernetHeader + total,
        };
        return true;
    }

    public static ulong Mac(ReadOnlySpan<byte> six) =>
        ((ulong)six[0] << 40) | ((ulong)six[1] << 32) | ((ulong)six[2] << 24) | ((ulong)six[3] << 16) | ((ulong)six[4] << 8) | six[5];
}
