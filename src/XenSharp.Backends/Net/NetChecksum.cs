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
