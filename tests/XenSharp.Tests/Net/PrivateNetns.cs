using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using XenSharp.Backends.Net;
using XenSharp.Kvm;

namespace XenSharp.Tests.Net;

/// <summary>
/// A network namespace of the test's own, holding one TAP interface with one address, up. A dedicated thread unshares
/// its network namespace (unshare(CLONE_NEWNET) applies to the calling thread only), opens the TAP there and sets the
/// address with the classic interface ioctls on a socket made in that namespace; nothing outside it is touched, and it
/// goes away with the TAP. The thread stays in the namespace until <see cref="Dispose"/>.
/// </summary>
internal sealed class PrivateNetns : IDisposable
{
    private const uint SiocGifflags = 0x8913;
    private const uint SiocSifflags = 0x8914;
    private const uint SiocSifaddr = 0x8916;
    private const uint SiocSifnetmask = 0x891c;
    private const short IffUp = 0x1;

    private readonly ManualResetEventSlim _ready = new();
    private readonly ManualResetEventSlim _done = new();
    private readonly Thread _thread;
    private Exception? _error;

    private PrivateNetns(string address, int prefix, bool vnetHeader)
    {
        _thread = new Thread(() => Run(address, prefix, vnetHeader)) { IsBackground = true, Name = "netns" };
        _thread.Start();
        _ready.Wait();
        if (_error is not null)
        {
            _thread.Join();
            throw new InvalidOperationException($"private network namespace: {_error.Message}", _error);
        }
    }

    public TapDevice Tap { get; private set; } = null!;

    public static PrivateNetns Start(string address, int prefix, bool vnetHeader) => new(address, prefix, vnetHeader);

    public void Dispose()
    {
        _done.Set();
        _thread.Join();
    }

    private void Run(string address, int prefix, bool vnetHeader)
    {
        try
        {
            int unshared = HostTap.UnshareNetworkNamespace();
            if (unshared != 0)
            {
                throw new IOException($"unshare(CLONE_NEWNET): {HostTap.DescribeErrno(-unshared)}");
            }

            Tap = TapDevice.Open("xstap%d", vnetHeader);
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            Ioctl(s, SiocSifaddr, Ifreq(Tap.Name, AddrIn(TestFrames.Ip(address))));
            Ioctl(s, SiocSifnetmask, Ifreq(Tap.Name, AddrIn(prefix == 0 ? 0 : uint.MaxValue << (32 - prefix))));
            byte[] flags = Ifreq(Tap.Name, new byte[2]);
            Ioctl(s, SiocGifflags, flags);
            flags[16] |= (byte)IffUp;
            Ioctl(s, SiocSifflags, flags);
        }
        catch (Exception e)
        {
            _error = e;
            Tap?.Dispose();
            _ready.Set();
            return;
        }

        _ready.Set();
        _done.Wait();
    }

    private static void Ioctl(Socket s, uint request, byte[] ifr)
    {
        int rc = HostTap.InterfaceIoctl(s.SafeHandle, request, ifr);
        if (rc != 0)
        {
            throw new IOException($"ioctl {request:x}: {HostTap.DescribeErrno(-rc)}");
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
