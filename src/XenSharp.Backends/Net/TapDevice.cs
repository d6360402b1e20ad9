using Microsoft.Win32.SafeHandles;
using XenSharp.Kvm;

namespace XenSharp.Backends.Net;

/// <summary>
/// A TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI, with IFF_VNET_HDR when asked): whole Ethernet frames in both
/// directions, each after a virtio_net_hdr when <see cref="VnetHeader"/> (the kernel then takes GSO frames and partial
/// checksums from us; it hands us complete ones, as no offload is turned on for its side). The interface lives in the network
/// namespace of the thread that opened it and goes away when this is disposed. Reads wait at most a poll interval, so
/// a reader thread can stop; writes never wait.
/// </summary>
public sealed class TapDevice : IDisposable
{
    private const int Eintr = 4;
    private const int Eagain = 11;

    private readonly SafeFileHandle _fd;

    private TapDevice(SafeFileHandle fd, string name, bool vnetHeader)
    {
        _fd = fd;
        Name = name;
        VnetHeader = vnetHeader;
    }

    /// <summary>Every frame read or written starts with a 10-byte struct virtio_net_hdr.</summary>
    public bool VnetHeader { get; }

    /// <summary>The interface's name (the kernel's choice when the name asked for had a %d).</summary>
    public string Name { get; }

    public static bool IsAvailable => File.Exists(HostTap.TunPath);

    /// <summary>Creates (or attaches to) TAP interface <paramref name="name"/> ("xs%d": the kernel numbers it).</summary>
    public static TapDevice Open(string name, bool vnetHeader = true)
    {
        SafeFileHandle fd = HostTap.OpenTap(name, vnetHeader, out string interfaceName);
        return new TapDevice(fd, interfaceName, vnetHeader);
    }

    /// <summary>Reads one frame into <paramref name="buffer"/>: its length, or 0 if none came within <paramref name="pollMs"/>.</summary>
    public int Read(byte[] buffer, int pollMs)
    {
        int ready = HostTap.WaitReadable(_fd, pollMs);
        nint n = ready > 0 ? HostTap.Read(_fd, buffer) : ready;
        return n >= 0 ? (int)n
            : -n is Eintr or Eagain ? 0
            : throw new IOException($"read {Name}: {HostTap.DescribeErrno((int)-n)}");
    }

    /// <summary>Writes one frame; false if the kernel refused it (e.g. the interface is down).</summary>
    public bool Write(byte[] frame) => HostTap.Write(_fd, frame) == frame.Length;

    public void Dispose() => _fd.Dispose();
}
