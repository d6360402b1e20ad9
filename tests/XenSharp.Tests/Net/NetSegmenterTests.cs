using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Backends.Net;
using Xunit;
using static XenSharp.Tests.Net.TestFrames;

namespace XenSharp.Tests.Net;

/// <summary>Software GSO: a TCP super-frame cut into valid segments, over IPv4 and IPv6.</summary>
public sealed class NetSegmenterTests
{
    [Fact]
    public void AnIpv4SuperFrameIsCutIntoValidSegments()
    {
        byte[] frame = Tcp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2", 1234, 80, payload: 2500);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(34 + 4), 0xfffffe00); // the sequence number wraps
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14 + 4), 0xfffe);     // and the IP id
        frame[34 + 13] = 0x80 | 0x10 | 0x08 | 0x01;                              // CWR ACK PSH FIN
        List<NetPacket> segs = NetSegmenter.Segment(new NetPacket(frame, NetOffload.CsumBlank, NetifExtra.GsoTypeTcpV4, 1000))!;

        Assert.Equal([1054, 1054, 554], segs.Select(s => s.Length));
        Assert.Equal(frame[54..], segs.SelectMany(s => s.Frame[54..]).ToArray());
        Assert.Equal([0xfffffe00u, unchecked(0xfffffe00u + 1000), unchecked(0xfffffe00u + 2000)], segs.Select(s => BinaryPrimitives.ReadUInt32BigEndian(s.Frame.AsSpan(38))));
        Assert.Equal([0x90, 0x10, 0x19], segs.Select(s => (int)s.Frame[47]));
        Assert.Equal([0xfffe, 0xffff, 0], segs.Select(s => (int)BinaryPrimitives.ReadUInt16BigEndian(s.Frame.AsSpan(18))));
        foreach (NetPacket s in segs)
        {
            Assert.Equal(s.Length - 14, BinaryPrimitives.ReadUInt16BigEndian(s.Frame.AsSpan(16)));
            Assert.Equal(0, IpChecksum(s.Frame.AsSpan(14, 20)));
            Assert.Equal(0, L4ChecksumV4(s.Frame));
            Assert.False(s.IsGso);
            Assert.Equal(NetOffload.DataValidated, s.Offload);
        }
    }

    [Fact]
    public void AnIpv6SuperFrameIsCutToo()
    {
        var frame = new byte[14 + 40 + 20 + 3000];
        Ethernet(frame, Mac(1), Mac(2), 0x86dd);
        frame[14] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(18), 20 + 3000);
        frame[20] = 6;
        frame[21] = 64;
        frame[22] = 0xfd; // fd00::1 → fd00::2
        frame[37] = 1;
        frame[38] = 0xfd;
        frame[53] = 2;
        frame[54 + 12] = 0x50;
        for (int i = 74; i < frame.Length; i++)
        {
            frame[i] = (byte)i;
        }

        List<NetPacket> segs = NetSegmenter.Segment(new NetPacket(frame, NetOffload.CsumBlank, NetifExtra.GsoTypeTcpV6, 1440))!;
        Assert.Equal([1440, 1440, 120], segs.Select(s => s.Length - 74));
        Assert.Equal([1460, 1460, 140], segs.Select(s => (int)BinaryPrimitives.ReadUInt16BigEndian(s.Frame.AsSpan(18))));
        Assert.Equal(frame[74..], segs.SelectMany(s => s.Frame[74..]).ToArray());
        foreach (NetPacket s in segs)
        {
            var pseudo = new byte[40 + s.Length - 54];
            s.Frame.AsSpan(22, 32).CopyTo(pseudo);
            BinaryPrimitives.WriteUInt32BigEndian(pseudo.AsSpan(32), (uint)(s.Length - 54));
            pseudo[39] = 6;
            s.Frame.AsSpan(54).CopyTo(pseudo.AsSpan(40));
            Assert.Equal(0, IpChecksum(pseudo));
        }
    }

    [Fact]
    public void WhatIsNotTcpOverIpIsNotCut()
    {
        Assert.Null(NetSegmenter.Segment(new NetPacket(Udp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2", 1, 2, 3000), NetOffload.None, NetifExtra.GsoTypeTcpV4, 1000)));
        Assert.Null(NetSegmenter.Segment(new NetPacket(Sized(Mac(1), Mac(2), 3000), NetOffload.None, NetifExtra.GsoTypeTcpV4, 1000)));
        Assert.Null(NetSegmenter.Segment(new NetPacket(Tcp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2", 1, 2, 3000)))); // not GSO
    }

    private static ushort L4ChecksumV4(byte[] f)
    {
        int length = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(16)) - 20;
        var pseudo = new byte[12 + length];
        f.AsSpan(26, 8).CopyTo(pseudo);
        pseudo[9] = f[23];
        BinaryPrimitives.WriteUInt16BigEndian(pseudo.AsSpan(10), (ushort)length);
        f.AsSpan(34, length).CopyTo(pseudo.AsSpan(12));
        return IpChecksum(pseudo);
    }
}
