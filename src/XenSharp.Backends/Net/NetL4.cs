using System.Buffers.Binary;

namespace XenSharp.Backends.Net;

/// <summary>
/// Where a TCP/UDP segment sits in a frame: IPv4 (a whole datagram: no fragment) or IPv6 without extension headers.
/// <see cref="TryParse"/> never throws and never yields offsets past the frame.
/// </summary>
internal readonly record struct NetL4(bool Ipv6, byte Protocol, int L4Offset, int End, int HeaderEnd)
{
    public const int Ipv6Header = 40;

    /// <summary>Offset of the checksum field inside the L4 header.</summary>
    public int CsumOffset => Protocol == VfrFrame.Tcp ? 16 : 6;

    /// <summary>The IP header's offset (after Ethernet).</summary>
    public static int IpOffset => VfrFrame.EthernetHeader;

    public static bool TryParse(byte[] frame, out NetL4 l4)
    {
        l4 = default;
        int offset;
        int end;
        byte protocol;
        bool v6;
        if (VfrFrame.TryParse(frame, out VfrFrame f) && f.IsIpv4)
        {
            if (!f.HasPorts || (BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(IpOffset + 6)) & 0x2000) != 0)
            {
                return false; // not TCP/UDP, or a fragment
            }

            (offset, end, protocol, v6) = (f.L4Offset, f.IpEnd, f.IpProtocol, false);
        }
        else if (frame.Length >= IpOffset + Ipv6Header && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == 0x86dd
            && frame[IpOffset] >> 4 == 6 && frame[IpOffset + 6] is VfrFrame.Tcp or VfrFrame.Udp)
        {
            offset = IpOffset + Ipv6Header;
            end = offset + BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(IpOffset + 4));
            protocol = frame[IpOffset + 6];
            v6 = true;
            if (end > frame.Length)
            {
                return false;
            }
        }
        else
        {
            return false;
        }

        int header = protocol == VfrFrame.Tcp ? (end - offset >= 13 ? (frame[offset + 12] >> 4) * 4 : 0) : 8;
        if ((protocol == VfrFrame.Tcp && header < 20) || offset + header > end)
        {
            return false;
        }

        l4 = new NetL4(v6, protocol, offset, end, offset + header);
        return true;
    }
}
