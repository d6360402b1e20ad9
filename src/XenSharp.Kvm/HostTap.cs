using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using XenSharp.Kvm.Native;

namespace XenSharp.Kvm;

/// <summary>
/// The host's TAP devices and network namespaces, for the virtual firewall-router's uplink: the libc calls .NET has no
/// managed form of (TUNSETIFF, poll on a character device, read/write of whole frames, the interface ioctls, unshare),
/// kept in this project with the rest of XenSharp's P/Invoke. Errors come back as a negative errno, never as exceptions,
/// except where a caller cannot go on (<see cref="OpenTap"/>).
/// </summary>
public static unsafe partial class HostTap
{
    public const string TunPath = "/dev/net/tun";

    /// <summary>IFNAMSIZ: an interface name is at most 15 bytes and a NUL.</summary>
    public const int InterfaceNameSize = 16;

    /// <summary>sizeof(struct ifreq): the name, then a 24-byte union.</summary>
    public const int InterfaceRequestSize = 40;

    private const uint TunSetIff = 0x400454ca; // _IOW('T', 202, int)
    private const short IffTap = 0x0002;
    private const short IffNoPi = 0x1000;
    private const short IffVnetHdr = 0x4000;
    private const short PollIn = 0x001;
    private const int CloneNewNet = 0x40000000;

    /// <summary>
    /// Opens /dev/net/tun and makes it TAP interface <paramref name="name"/> (a "%d" in it lets the kernel number it),
    /// IFF_NO_PI, with IFF_VNET_HDR when <paramref name="vnetHeader"/>; the interface's name as the kernel chose it.
    /// </summary>
    /// <exception cref="ArgumentException">The name does not fit IFNAMSIZ.</exception>
    /// <exception cref="IOException">The device cannot be opened or the ioctl is refused.</exception>
    public static SafeFileHandle OpenTap(string name, bool vnetHeader, out string interfaceName)
    {
        byte[] nameBytes = Encoding.ASCII.GetBytes(name);
        if (nameBytes.Length >= InterfaceNameSize)
        {
            throw new ArgumentException($"interface name \"{name}\" is longer than {InterfaceNameSize - 1} bytes", nameof(name));
        }

        SafeFileHandle fd = File.OpenHandle(TunPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        Span<byte> ifr = stackalloc byte[InterfaceRequestSize];
        ifr.Clear();
        nameBytes.CopyTo(ifr);
        short flags = (short)(IffTap | IffNoPi | (vnetHeader ? IffVnetHdr : 0));
        MemoryMarshal.Write(ifr[InterfaceNameSize..], in flags);
        int rc = InterfaceIoctl(fd, TunSetIff, ifr);
        if (rc != 0)
        {
            fd.Dispose();
            throw new IOException($"TUNSETIFF {name}: {ErrnoNames.Describe(-rc)}");
        }

        int end = ifr[..InterfaceNameSize].IndexOf((byte)0);
        interfaceName = Encoding.ASCII.GetString(ifr[..(end < 0 ? InterfaceNameSize : end)]);
        return fd;
    }

    /// <summary>Waits at most <paramref name="timeoutMs"/> for <paramref name="fd"/> to be readable: 1 readable, 0 not, or -errno.</summary>
    public static int WaitReadable(SafeHandle fd, int timeoutMs)
    {
        bool added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            PollFd p = new() { Fd = (int)fd.DangerousGetHandle(), Events = PollIn };
            int n = LibC.Poll(&p, 1, timeoutMs);
            return n < 0 ? -Marshal.GetLastPInvokeError() : n > 0 && (p.Revents & PollIn) != 0 ? 1 : 0;
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    /// <summary>read(2) of one frame: its length, or -errno.</summary>
    public static nint Read(SafeHandle fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            nint n = ReadRaw(fd, p, (nuint)buffer.Length);
            return n < 0 ? -Marshal.GetLastPInvokeError() : n;
        }
    }

    /// <summary>write(2) of one frame: the bytes written, or -errno.</summary>
    public static nint Write(SafeHandle fd, ReadOnlySpan<byte> frame)
    {
        fixed (byte* p = frame)
        {
            nint n = WriteRaw(fd, p, (nuint)frame.Length);
            return n < 0 ? -Marshal.GetLastPInvokeError() : n;
        }
    }

    /// <summary>An interface ioctl (SIOCSIFADDR, SIOCGIFFLAGS, TUNSETIFF...) on a struct ifreq: 0, or -errno.</summary>
    public static int InterfaceIoctl(SafeHandle fd, uint request, Span<byte> ifreq)
    {
        if (ifreq.Length < InterfaceRequestSize)
        {
            throw new ArgumentException($"a struct ifreq is {InterfaceRequestSize} bytes", nameof(ifreq));
        }

        fixed (byte* p = ifreq)
        {
            return IoctlRaw(fd, request, p) == 0 ? 0 : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>unshare(CLONE_NEWNET) for the calling thread: 0, or -errno.</summary>
    public static int UnshareNetworkNamespace() => UnshareRaw(CloneNewNet) == 0 ? 0 : -Marshal.GetLastPInvokeError();

    /// <summary>"EPERM (1)" for errno 1.</summary>
    public static string DescribeErrno(int errno) => ErrnoNames.Describe(errno);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int IoctlRaw(SafeHandle fd, nuint request, void* arg);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadRaw(SafeHandle fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint WriteRaw(SafeHandle fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "unshare", SetLastError = true)]
    private static partial int UnshareRaw(int flags);
}
