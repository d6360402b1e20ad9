using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Backends.Net;
using Xunit;
using static XenSharp.Tests.Net.TestFrames;

namespace XenSharp.Tests.Net;

/// <summary>
/// The VFR's uplink through a real TAP device, in a network namespace of the test's own (10.77.0.0/24 exists only
/// there): a port on the VFR resolves the host's address by ARP, pings it, sends it a datagram whose checksum it left
/// blank and a TCP GSO frame — with the virtio header (the kernel finishes checksums and takes GSO) and without (the
/// uplink fills checksums and cuts GSO frames into segments).
/// </summary>
public sealed class TapUplinkTests
{
    private const string HostIp = "10.77.0.1";
    private const string GuestIp = "10.77.0.2";

    [TapFact]
    public void APortReachesTheHostThroughATapWithTheVirtioHeader() => ReachTheHost(vnetHeader: true);

    [TapFact]
    public void APortReachesTheHostThroughAPlainTap() => ReachTheHost(vnetHeader: false);

    private static void ReachTheHost(bool vnetHeader)
    {
        using PrivateNetns ns = PrivateNetns.Start(HostIp, 24, vnetHeader);
        var vfr = new Vfr();
        var guest = new CapturingEndpoint();
        VfrPort port = vfr.Attach("guest", guest);
        var uplink = new TapUplink(vfr, ns.Tap);
        try
        {
            Assert.True(port.Send(new NetPacket(ArpRequest(Mac(2), GuestIp, HostIp))));
            byte[] arp = WaitFor(guest, f => BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(12)) == 0x0806 && f[21] == 2);
            Assert.Equal(Ip(HostIp), BinaryPrimitives.ReadUInt32BigEndian(arp.AsSpan(28))); // the sender is the host
            ulong hostMac = VfrMac(arp.AsSpan(6));
            Assert.Same(uplink.Port, vfr.Lookup(hostMac));

            Assert.True(port.Send(new NetPacket(Icmp(Mac(2), hostMac, GuestIp, HostIp))));
            byte[] pong = WaitFor(guest, f => f.Length >= 34 && f[12] == 8 && f[13] == 0 && f[23] == 1 && f[34] == 0); // ICMP echo reply
            Assert.Equal(Ip(HostIp), BinaryPrimitives.ReadUInt32BigEndian(pong.AsSpan(26)));

            // A blank checksum (here garbage, as a sender offloading it leaves the field) is filled on the way out: the
            // host answers a datagram to a closed port with port unreachable, and would drop one with a bad checksum.
            byte[] udp = Udp(Mac(2), hostMac, GuestIp, HostIp, 40000, 9);
            BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(14 + 20 + 6), 0x1234);
            Assert.True(port.Send(new NetPacket(udp, NetOffload.CsumBlank | NetOffload.DataValidated)));
            WaitFor(guest, f => f.Length >= 36 && f[12] == 8 && f[13] == 0 && f[23] == 1 && f[34] == 3 && f[35] == 3);

            // A TCP super-frame of 3000 bytes (segments of 1000) to a closed port, no flags: the host answers each
            // segment it gets with RST, ACK, ack = seq + its length. With the virtio header the kernel takes the whole
            // frame (one reset, ack 3000); without it the uplink cuts it (a reset for each: 1000, 2000, 3000).
            Assert.True(port.Send(new NetPacket(Tcp(Mac(2), hostMac, GuestIp, HostIp, 40001, 9, payload: 3000),
                NetOffload.CsumBlank | NetOffload.DataValidated, NetifExtra.GsoTypeTcpV4, 1000)));
            WaitFor(guest, f => IsResetAcking(f, 3000));
            Assert.Equal(!vnetHeader, guest.Packets.Any(p => IsResetAcking(p.Frame, 1000)));
            Assert.Equal(0L, uplink.Unsendable);

            Assert.Equal(0L, uplink.ReadErrors);
        }
        finally
        {
            uplink.Dispose();
        }

        Assert.DoesNotContain(uplink.Port, vfr.Ports);
        Assert.False(uplink.Deliver(new NetPacket(Sized(Mac(2), Broadcast, 60))));
    }

    private static bool IsResetAcking(byte[] f, uint ack) =>
        f.Length >= 54 && f[12] == 8 && f[13] == 0 && f[23] == 6 && (f[34 + 13] & 0x04) != 0
        && BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(34 + 8)) == ack;

    private static ulong VfrMac(ReadOnlySpan<byte> six) =>
        ((ulong)six[0] << 40) | ((ulong)six[1] << 32) | ((ulong)six[2] << 24) | ((ulong)six[3] << 16) | ((ulong)six[4] << 8) | six[5];

    /// <summary>The first frame the endpoint got that matches; fails after two minutes (a hang guard, not a timing).</summary>
    private static byte[] WaitFor(CapturingEndpoint e, Func<byte[], bool> match)
    {
        byte[]? found = null;
        Assert.True(SpinWait.SpinUntil(() => (found = e.Packets.Select(p => p.Frame).FirstOrDefault(match)) is not null, TimeSpan.FromMinutes(2)),
            "no matching frame came back through the TAP");
        return found!;
    }
}
