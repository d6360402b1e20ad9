using System.Buffers.Binary;
using XenSharp.Backends.Net;
using Xunit;
using static XenSharp.Tests.Net.TestFrames;

namespace XenSharp.Tests.Net;

/// <summary>Blank checksums: filled here, or seeded with the pseudo-header sum for a device to finish (virtio's NEEDS_CSUM).</summary>
public sealed class NetChecksumTests
{
    public static TheoryData<byte[]> Frames => new()
    {
        Tcp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2", 1234, 80, payload: 1001),
        Udp(Mac(1), Mac(2), "192.168.1.1", "10.9.8.7", 53, 5353, payload: 77),
    };

    [Theory]
    [MemberData(nameof(Frames))]
    public void ASeededChecksumFinishedAsADeviceDoesEqualsTheFilledOne(byte[] frame)
    {
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14 + 20 + (frame[23] == 6 ? 16 : 6)), 0xbeef); // whatever the sender left
        byte[] filled = NetChecksum.Filled(frame)!;
        var (seeded, start, offset, header, _) = NetChecksum.PartialSeeded(frame)!.Value;
        Assert.Equal((34, frame[23] == 6 ? 16 : 6, frame[23] == 6 ? 54 : 42), (start, offset, header));

        ushort finished = IpChecksum(seeded.AsSpan(start)); // the device: the sum from csum_start on, field included
        BinaryPrimitives.WriteUInt16BigEndian(seeded.AsSpan(start + offset), finished);
        Assert.Equal(filled, seeded);
    }

    [Fact]
    public void FramesThatAreNotTcpOrUdpOverIpAreNotSeeded()
    {
        Assert.Null(NetChecksum.PartialSeeded(Icmp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2")));
        Assert.Null(NetChecksum.PartialSeeded(ArpRequest(Mac(1), "10.0.0.1", "10.0.0.2")));
        Assert.Null(NetChecksum.Filled(Icmp(Mac(1), Mac(2), "10.0.0.1", "10.0.0.2")));
    }
}
