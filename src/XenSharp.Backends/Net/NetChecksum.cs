using System.Buffers.Binary;

namespace XenSharp.Backends.Net;

/// <summary>
/// Fills the TCP/UDP checksum of an IPv4 frame whose sender left it blank (NETTXF_csum_blank), for a receiver that
/// cannot take it blank: the TAP uplink, a frontend with feature-no-csum-offload. Works on a copy; never throws.
/// </summary>
internal static class NetChecksum
{
    /// <summary>A copy of <paramref name="frame"/> with its L4 checksum filled; null if it is not IPv4 TCP/UDP in one piece.</summary>
    public static byte[]? Filled(byte[] frame)
    {
        if (!VfrFrame.TryParse(frame, out VfrFrame f) || !f.IsIpv4 || !f.HasPorts || (BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(20)) & 0x2000) != 0)
        {
            return null; // not IPv4 TCP/UDP, or a fragment (more fragments follow)
        }

        byte[] copy = (byte[])frame.Clone();
        int field = f.L4Offset + (f.IpProtocol == VfrFrame.Tcp ? 16 : 6);
        copy[field] = 0;
        copy[field + 1] = 0;
        int length = f.IpEnd - f.L4Offset;
        ulong sum = (f.SourceIp >> 16) + (f.SourceIp & 0xffff) + (f.DestinationIp >> 16) + (f.DestinationIp & 0xffff)
            + f.IpProtocol + (uint)length;
        sum += Sum(copy.AsSpan(f.L4Offset, length));
        ushort result = Fold(sum);
        if (result == 0 && f.IpProtocol == VfrFrame.Udp)
        {
            result = 0xffff;
        }

        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(field), result);
        return copy;
    }

    /// <summary>
    /// For a device that finishes a partial checksum (virtio's NEEDS_CSUM): a copy of an IPv4 or IPv6 (no extension
    /// headers) TCP/UDP frame whose checksum field holds the folded pseudo-header sum, as Linux leaves it for
    /// CHECKSUM_PARTIAL, and where the L4 header starts and the field sits in it. Null if the frame is none of those.
    /// The field is rewritten, whatever the sender left in it.
    /// </summary>
    public static (byte[] Frame, int CsumStart, int CsumOffset, int HeaderLength)? PartialSeeded(byte[] frame)
    {
        ulong sum;
        int l4;
        int length;
        byte protocol;
        if (VfrFrame.TryParse(frame, out VfrFrame f) && f.IsIpv4 && f.HasPorts)
        {
            l4 = f.L4Offset;
            length = f.IpEnd - l4;
            protocol = f.IpProtocol;
            sum = (f.SourceIp >> 16) + (f.SourceIp & 0xffff) + (f.DestinationIp >> 16) + (f.DestinationIp & 0xffff);
        }
        else if (frame.Length >= 54 && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == 0x86dd
            && frame[20] is VfrFrame.Tcp or VfrFrame.Udp)
        {
            l4 = 54;
            length = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(18));
            protocol = frame[20];
            if (l4 + length > frame.Length)
            {
                return null;
            }

            sum = Sum(frame.AsSpan(22, 32)); // source and destination addresses
        }
        else
        {
            return null;
        }

        int offset = protocol == VfrFrame.Tcp ? 16 : 6;
        int header = protocol == VfrFrame.Tcp ? (frame.Length > l4 + 12 ? (frame[l4 + 12] >> 4) * 4 : 20) : 8;
        if (l4 + Math.Max(header, offset + 2) > frame.Length)
        {
            return null;
        }

        sum += protocol + (uint)length;
        byte[] copy = (byte[])frame.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(l4 + offset), (ushort)~Fold(sum));
        return (copy, l4, offset, l4 + header);
    }

    /// <summary>The one's-complement checksum of an IPv4 header (zero when it is valid).</summary>
    public static ushort Ipv4Header(ReadOnlySpan<byte> header) => Fold(Sum(header));

    private static ulong Sum(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if (i < data.Length)
        {
            sum += (uint)data[i] << 8;
        }

        return sum;
    }

    private static ushort Fold(ulong sum)
    {
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
