using System.Buffers.Binary;

namespace XenSharp.Tests.Net;

/// <summary>Builds Ethernet frames for the network tests: IPv4 TCP/UDP/ICMP with correct headers, ARP, raw bytes.</summary>
internal static class TestFrames
{
    public const ulong Broadcast = 0xffff_ffff_ffff;

    public static ulong Mac(int n) => 0x02_00_00_00_00_00UL | (uint)n; // locally administered, unicast

    public static uint Ip(string dotted)
    {
        byte[] b = dotted.Split('.').Select(byte.Parse).ToArray();
        return BinaryPrimitives.ReadUInt32BigEndian(b);
    }

    public static byte[] Tcp(ulong src, ulong dst, string srcIp, string dstIp, ushort sport, ushort dport, int payload = 20) =>
        Ipv4(src, dst, srcIp, dstIp, 6, L4(20, sport, dport, payload));

    public static byte[] Udp(ulong src, ulong dst, string srcIp, string dstIp, ushort sport, ushort dport, int payload = 20)
    {
        byte[] l4 = L4(8, sport, dport, payload);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(4), (ushort)l4.Length);
        return Ipv4(src, dst, srcIp, dstIp, 17, l4);
    }

    public static byte[] Icmp(ulong src, ulong dst, string srcIp, string dstIp)
    {
        byte[] l4 = new byte[16];
        l4[0] = 8; // echo request
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(2), IpChecksum(l4));
        return Ipv4(src, dst, srcIp, dstIp, 1, l4);
    }

    public static byte[] Ipv4(ulong src, ulong dst, string srcIp, string dstIp, byte protocol, byte[] l4)
    {
        var f = new byte[14 + 20 + l4.Length];
        Ethernet(f, src, dst, 0x0800);
        Span<byte> ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + l4.Length));
        ip[8] = 64;
        ip[9] = protocol;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], Ip(srcIp));
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], Ip(dstIp));
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], IpChecksum(ip[..20]));
        l4.CopyTo(ip[20..]);
        return f;
    }

    /// <summary>An ARP request: who has <paramref name="targetIp"/>, tell <paramref name="senderIp"/> at <paramref name="src"/>.</summary>
    public static byte[] ArpRequest(ulong src, string senderIp, string targetIp)
    {
        var f = new byte[42];
        Ethernet(f, src, Broadcast, 0x0806);
        Span<byte> a = f.AsSpan(14);
        BinaryPrimitives.WriteUInt16BigEndian(a, 1);          // Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(a[2..], 0x0800); // IPv4
        a[4] = 6;
        a[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(a[6..], 1);      // request
        WriteMac(a[8..], src);
        BinaryPrimitives.WriteUInt32BigEndian(a[14..], Ip(senderIp));
        BinaryPrimitives.WriteUInt32BigEndian(a[24..], Ip(targetIp));
        return f;
    }

    /// <summary>A frame of <paramref name="length"/> bytes: the header, then a pattern that tells every byte apart.</summary>
    public static byte[] Sized(ulong src, ulong dst, int length)
    {
        var f = new byte[length];
        for (int i = 0; i < length; i++)
        {
            f[i] = (byte)((i * 7) + (i >> 8));
        }

        Ethernet(f, src, dst, 0x88b5); // local experimental EtherType
        return f;
    }

    public static void Ethernet(Span<byte> f, ulong src, ulong dst, ushort type)
    {
        WriteMac(f, dst);
        WriteMac(f[6..], src);
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], type);
    }

    public static void WriteMac(Span<byte> at, ulong mac)
    {
        for (int i = 0; i < 6; i++)
        {
            at[i] = (byte)(mac >> (40 - (8 * i)));
        }
    }

    /// <summary>The Internet checksum (RFC 1071) of <paramref name="header"/>.</summary>
    public static ushort IpChecksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        int i = 0;
        for (; i + 1 < header.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        }

        if (i < header.Length)
        {
            sum += (uint)header[i] << 8; // an odd length: the last byte padded with zero
        }

        while (sum >> 16 != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    private static byte[] L4(int header, ushort sport, ushort dport, int payload)
    {
        var l4 = new byte[header + payload];
        BinaryPrimitives.WriteUInt16BigEndian(l4, sport);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(2), dport);
        if (header == 20)
        {
            l4[12] = 0x50; // data offset 5
        }

        for (int i = header; i < l4.Length; i++)
        {
            l4[i] = (byte)i;
        }

        return l4;
    }
}
