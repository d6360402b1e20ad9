using System.Buffers.Binary;
using XenSharp.Abi;

namespace XenSharp.Backends.Net;

/// <summary>
/// Software GSO: cuts a TCP super-frame (IPv4 or IPv6, as <see cref="NetL4"/> reads it) into frames of at most
/// <see cref="NetPacket.GsoSize"/> payload bytes each, for a receiver that takes no GSO (a frontend without
/// feature-gso-tcpv4/-tcpv6, a TAP without the virtio header). Each segment gets its headers copied, the IP length
/// (and for IPv4 the id, incremented per segment, and the header checksum) and the TCP sequence number adjusted, FIN and
/// PSH only on the last, CWR only on the first, and a complete TCP checksum. Null if the frame is not TCP over IP.
/// </summary>
internal static class NetSegmenter
{
    public static List<NetPacket>? Segment(NetPacket packet)
    {
        byte[] frame = packet.Frame;
        if (!packet.IsGso || packet.GsoSize == 0 || !NetL4.TryParse(frame, out NetL4 l4) || l4.Protocol != VfrFrame.Tcp)
        {
            return null;
        }

        int mss = packet.GsoSize;
        int payload = l4.End - l4.HeaderEnd;
        int count = Math.Max(1, (payload + mss - 1) / mss);
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(l4.L4Offset + 4));
        byte tcpFlags = frame[l4.L4Offset + 13];
        ushort ipId = l4.Ipv6 ? (ushort)0 : BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(NetL4.IpOffset + 4));
        var segments = new List<NetPacket>(count);
        for (int i = 0; i < count; i++)
        {
            int at = i * mss;
            int length = Math.Min(mss, payload - at);
            var seg = new byte[l4.HeaderEnd + length];
            frame.AsSpan(0, l4.HeaderEnd).CopyTo(seg);
            frame.AsSpan(l4.HeaderEnd + at, length).CopyTo(seg.AsSpan(l4.HeaderEnd));
            Span<byte> ip = seg.AsSpan(NetL4.IpOffset);
            if (l4.Ipv6)
            {
                BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(seg.Length - l4.L4Offset));
            }
            else
            {
                int ihl = l4.L4Offset - NetL4.IpOffset;
                BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(seg.Length - NetL4.IpOffset));
                BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(ipId + i));
                BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
                BinaryPrimitives.WriteUInt16BigEndian(ip[10..], NetChecksum.Compute(ip[..ihl]));
            }

            Span<byte> tcp = seg.AsSpan(l4.L4Offset);
            BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq + (uint)at);
            byte flags = tcpFlags;
            if (i + 1 < count)
            {
                flags &= unchecked((byte)~0x09); // FIN, PSH: the last segment's
            }

            if (i > 0)
            {
                flags &= unchecked((byte)~0x80); // CWR: the first segment's
            }

            tcp[13] = flags;
            byte[]? filled = NetChecksum.Filled(seg);
            if (filled is null)
            {
                return null;
            }

            segments.Add(new NetPacket(filled, NetOffload.DataValidated, NetifExtra.GsoTypeNone, 0));
        }

        return segments;
    }
}
