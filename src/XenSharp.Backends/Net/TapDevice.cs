using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

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

    public static bool IsAvailable => File.Exists(TapNative.TunPath);

    /// <summary>Creates (or attaches to) TAP interface <paramref name="name"/> ("xs%d": the kernel numbers it).</summary>
    public static TapDevice Open(string name, bool vnetHeader = true)
    {
        byte[] nameBytes = Encoding.ASCII.GetBytes(name);
        if (nameBytes.Length >= TapNative.IfNameSize)
        {
            throw new ArgumentException($"interface name \"{name}\" is longer than {TapNative.IfNameSize - 1} bytes", nameof(name));
        }

        SafeFileHandle fd = File.OpenHandle(TapNative.TunPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        var ifr = new byte[TapNative.IfreqSize];
        nameBytes.CopyTo(ifr, 0);
        BitConverter.TryWriteBytes(ifr.AsSpan(TapNative.IfNameSize), (short)(TapNative.IffTap | TapNative.IffNoPi | (vnetHeader ? TapNative.IffVnetHdr : 0)));
        if (TapNative.Ioctl(fd, TapNative.TunSetIff, ifr) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            fd.Dispose();
            throw new IOException($"TUNSETIFF {name}: {new Win32Exception(errno).Message}");
        }

        int end = Array.IndexOf(ifr, (byte)0, 0, TapNative.IfNameSize);
        return new TapDevice(fd, Encoding.ASCII.GetString(ifr, 0, end < 0 ? TapNative.IfNameSize : end), vnetHeader);
    }

    /// <summary>Reads one frame into <paramref name="buffer"/>: its length, or 0 if none came within <paramref name="pollMs"/>.</summary>
    public int Read(byte[] buffer, int pollMs)
    {
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            var fds = new[] { new TapNative.PollFd { Fd = (int)_fd.DangerousGetHandle(), Events = TapNative.PollIn } };
            int ready = TapNative.Poll(fds, 1, pollMs);
            if (ready <= 0 || (fds[0].Revents & TapNative.PollIn) == 0)
            {
                return 0;
            }
        }
        finally
        {
            if (added)
            {
                _fd.DangerousRelease();
            }
        }

        nint n = TapNative.Read(_fd, buffer, buffer.Length);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno is TapNative.Eintr or TapNative.Eagain ? 0 : throw new IOException($"read {Name}: {new Win32Exception(errno).Message}");
        }

        return (int)n;
    }

    /// <summary>Writes one frame; false if the kernel refused it (e.g. the interface is down).</summary>
    public bool Write(byte[] frame) => TapNative.Write(_fd, frame, frame.Length) == frame.Length;

    public void Dispose() => _fd.Dispose();
}
