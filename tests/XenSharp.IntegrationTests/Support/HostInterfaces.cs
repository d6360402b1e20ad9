using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using XenSharp.Kvm;

namespace XenSharp.IntegrationTests.Support;

/// <summary>
/// A host network interface configured with the classic ioctls on a socket made in the caller's network namespace
/// (tests' own namespaces: NetnsThread here, PrivateNetns in the unit tests, which link this file).
/// </summary>
internal static class HostInterfaces
{
    private const uint SiocGifflags = 0x8913;
    private const uint SiocSifflags = 0x8914;
    private const uint SiocSifaddr = 0x8916;
    private const uint SiocSifnetmask = 0x891c;
    private const short IffUp = 0x1;

    /// <summary>Whether interface <paramref name="name"/> exists in the caller's namespace.</summary>
    public static bool Exists(string name)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        return HostTap.InterfaceIoctl(s.SafeHandle, SiocGifflags, Ifreq(name, new byte[2])) == 0;
    }

    /// <summary>Gives interface <paramref name="name"/> an IPv4 address (host order) and prefix and sets it up.</summary>
    public static void ConfigureIpv4(string name, uint address, int prefix)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        Ioctl(s, SiocSifaddr, Ifreq(name, AddrIn(address)));
        Ioctl(s, SiocSifnetmask, Ifreq(name, AddrIn(prefix == 0 ? 0 : uint.MaxValue << (32 - prefix))));
        byte[] flags = Ifreq(name, new byte[2]);
        Ioctl(s, SiocGifflags, flags);
        flags[HostTap.InterfaceNameSize] |= (byte)IffUp;
        Ioctl(s, SiocSifflags, flags);
    }

    private static void Ioctl(Socket s, uint request, byte[] ifr)
    {
        int rc = HostTap.InterfaceIoctl(s.SafeHandle, request, ifr);
        if (rc != 0)
        {
            throw new IOException($"ioctl {request:x} on {Encoding.ASCII.GetString(ifr, 0, HostTap.InterfaceNameSize).TrimEnd('\0')}: {HostTap.DescribeErrno(-rc)}");
        }
    }

    private static byte[] Ifreq(string name, byte[] union)
    {
        var ifr = new byte[HostTap.InterfaceRequestSize];
        Encoding.ASCII.GetBytes(name).CopyTo(ifr, 0);
        union.CopyTo(ifr, HostTap.InterfaceNameSize);
        return ifr;
    }

    /// <summary>struct sockaddr_in for an address (host order): AF_INET, port 0, the address big-endian.</summary>
    private static byte[] AddrIn(uint address)
    {
        var sa = new byte[16];
        BinaryPrimitives.WriteUInt16LittleEndian(sa, 2);
        BinaryPrimitives.WriteUInt32BigEndian(sa.AsSpan(4), address);
        return sa;
    }
}
