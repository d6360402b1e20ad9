using System.Buffers.Binary;

namespace XenSharp.Backends.Net;

/// <summary>
/// TCP/UDP checksums a sender left blank (NETTXF_csum_blank): filled in for a receiver that cannot take them blank (a
/// plain TAP, a frontend with feature-no-csum-offload), or seeded with the pseudo-header sum for a device that finishes
/// them (virtio's NEEDS_CSUM). Over IPv4 and IPv6 (<see cref="NetL4"/>); works on copies; never throws.
/// </summary>
internal static class NetChecksum
{
    /// <summary>A copy of <paramref name="frame"/> with its L4 checksum complete; null if it is not TCP/UDP over IP.</summary>
    public static byte[]? Filled(byte[] frame)
    {
        if (PartialSeeded(frame) is not { } s)
        {
            return null;
        }

        int field = s.CsumStart + s.CsumOffset;
        ushort result = Fold(Sum(s.Frame.AsSpan(s.CsumStart, s.End - s.CsumStart)));
        if (result == 0 && s.CsumOffset == 6)
        {
            result = 0xffff; // UDP sends a computed zero as all ones (zero means "no checksum")
        }

        BinaryPrimitives.WriteUInt16BigEndian(s.Frame.AsSpan(field), result);
        return s.Frame;
    }

    /// <summary>
    /// A copy whose checksum field holds the folded pseudo-header sum (what Linux leaves for CHECKSUM_PARTIAL), with
    /// where the L4 header starts, where the field sits in it, where the L4 header ends and where the segment ends.
    /// The field is rewritten whatever the sender left in it. Null if the frame is not TCP/UDP over IP.
    /// </summary>
    public static (byte[] Frame, int CsumStart, int CsumOffset, int HeaderLength, int End)? PartialSeeded(byte[] frame)
    {
        if (!NetL4.TryParse(frame, out NetL4 l4))
        {
            return null;
        }

        ulong sum = l4.Ipv6
            ? Sum(frame.AsSpan(NetL4.IpOffset + 8, 32))  // source and destination addresses
            : Sum(frame.AsSpan(NetL4.IpOffset + 12, 8));
        sum += l4.Protocol + (uint)(l4.End - l4.L4Offset);
        byte[] copy = (byte[])frame.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(l4.L4Offset + l4.CsumOffset), (ushort)~Fold(sum));
        return (copy, l4.L4Offset, l4.CsumOffset, l4.HeaderEnd, l4.End);
    }

    /// <summary>The one's-complement checksum of <paramref name="data"/> (an IPv4 header: zero when it is valid).</summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => Fold(Sum(data));

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
