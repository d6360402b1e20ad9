using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenSharp.Backends.Net;

/// <summary>
/// The libc calls the TAP uplink needs (ioctl TUNSETIFF, poll, read, write) — the one P/Invoke outside XenSharp.Kvm,
/// kept to this file. Classic DllImport over blittable arguments (ints, byte arrays, an array of a blittable struct):
/// no unsafe code, so this project keeps AllowUnsafeBlocks off (LibraryImport's generated code would need it).
/// </summary>
internal static class TapNative
{
    public const string TunPath = "/dev/net/tun";

    /// <summary>_IOW('T', 202, int).</summary>
    public const uint TunSetIff = 0x400454ca;
    public const short IffTap = 0x0002;
    public const short IffNoPi = 0x1000;
    public const short IffVnetHdr = 0x4000;

    /// <summary>sizeof(struct ifreq): the name (IFNAMSIZ 16), then a 24-byte union (flags are its first short).</summary>
    public const int IfreqSize = 40;
    public const int IfNameSize = 16;

    public const short PollIn = 0x001;
    public const int Eintr = 4;
    public const int Eagain = 11;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in this project (see the summary)
    [DllImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static extern int Ioctl(SafeFileHandle fd, nuint request, byte[] arg);

    [DllImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static extern int Ioctl(nint fd, nuint request, byte[] arg);

    [DllImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static extern int Poll([In, Out] PollFd[] fds, nuint count, int timeoutMs);

    [DllImport("libc", EntryPoint = "read", SetLastError = true)]
    public static extern nint Read(SafeFileHandle fd, byte[] buffer, nint count);

    [DllImport("libc", EntryPoint = "write", SetLastError = true)]
    public static extern nint Write(SafeFileHandle fd, byte[] buffer, nint count);
#pragma warning restore SYSLIB1054
}
