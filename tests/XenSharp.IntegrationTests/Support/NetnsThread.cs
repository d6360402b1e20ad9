using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using XenSharp.Kvm;

namespace XenSharp.IntegrationTests.Support;

/// <summary>
/// A thread in a network namespace of the test's own (unshare(CLONE_NEWNET) applies to the calling thread only), which
/// runs what it is given: a process started there (fork copies the thread's namespace) and a socket made there live in
/// the namespace, whatever thread uses them later. Interfaces are configured with the classic ioctls on a socket of the
/// namespace. Nothing outside it is touched; it goes away with the last process and socket in it.
/// </summary>
public sealed class NetnsThread : IDisposable
{
    private const uint SiocGifflags = 0x8913;
    private const uint SiocSifflags = 0x8914;
    private const uint SiocSifaddr = 0x8916;
    private const uint SiocSifnetmask = 0x891c;
    private const short IffUp = 0x1;

    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NetnsThread()
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = "netns" };
        _thread.Start();
    }

    /// <summary>Starts the thread and unshares its network namespace (needs root: CAP_SYS_ADMIN).</summary>
    public static async Task<NetnsThread> StartAsync()
    {
        var t = new NetnsThread();
        try
        {
            await t._ready.Task;
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="f"/> on the namespace's thread.</summary>
    public Task<T> Run<T>(Func<T> f)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                done.SetResult(f());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }

    /// <summary>The namespace as /proc names it ("net:[4026532...]"), to compare with a process's.</summary>
    public Task<string?> Id() => Run(() => new FileInfo("/proc/thread-self/ns/net").LinkTarget);

    /// <summary>Whether interface <paramref name="name"/> exists in the namespace.</summary>
    public Task<bool> HasInterface(string name) => Run(() =>
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        return HostTap.InterfaceIoctl(s.SafeHandle, SiocGifflags, Ifreq(name, new byte[2])) == 0;
    });

    /// <summary>Gives interface <paramref name="name"/> an IPv4 address (host order) and prefix and sets it up.</summary>
    public Task<bool> Configure(string name, uint address, int prefix) => Run(() =>
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        Ioctl(s, SiocSifaddr, Ifreq(name, AddrIn(address)));
        Ioctl(s, SiocSifnetmask, Ifreq(name, AddrIn(prefix == 0 ? 0 : uint.MaxValue << (32 - prefix))));
        byte[] flags = Ifreq(name, new byte[2]);
        Ioctl(s, SiocGifflags, flags);
        flags[HostTap.InterfaceNameSize] |= (byte)IffUp;
        Ioctl(s, SiocSifflags, flags);
        return true;
    });

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join();
        _work.Dispose();
    }

    private void Loop()
    {
        int unshared = HostTap.UnshareNetworkNamespace();
        if (unshared != 0)
        {
            _ready.SetException(new IOException($"unshare(CLONE_NEWNET): {HostTap.DescribeErrno(-unshared)}"));
            return;
        }

        _ready.SetResult();
        foreach (Action a in _work.GetConsumingEnumerable())
        {
            a();
        }
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

    /// <summary>struct sockaddr_in: AF_INET, port 0, the address big-endian.</summary>
    private static byte[] AddrIn(uint address)
    {
        var sa = new byte[16];
        BinaryPrimitives.WriteUInt16LittleEndian(sa, 2);
        BinaryPrimitives.WriteUInt32BigEndian(sa.AsSpan(4), address);
        return sa;
    }
}
