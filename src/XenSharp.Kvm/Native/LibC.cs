using System.Runtime.InteropServices;

namespace XenSharp.Kvm.Native;

/// <summary>The libc calls this layer needs. ioctl and open are variadic in C; on x86-64 Linux passing the optional
/// argument as a fixed one is ABI-compatible.</summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    public const int O_RDWR = 0x2;
    public const int O_CLOEXEC = 0x80000;
    public const int PROT_READ = 0x1;
    public const int PROT_WRITE = 0x2;
    public const int MAP_SHARED = 0x1;
    public const uint MFD_CLOEXEC = 0x1;
    public const int FALLOC_FL_KEEP_SIZE = 0x1;
    public const int FALLOC_FL_PUNCH_HOLE = 0x2;
    public static readonly nint MapFailed = -1;

    [LibraryImport(Lib, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(FileDescriptor fd, nuint request, void* arg);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(FileDescriptor fd, nuint request, nuint arg);

    [LibraryImport(Lib, EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, FileDescriptor fd, long offset);

    [LibraryImport(Lib, EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport(Lib, EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int MemfdCreate(string name, uint flags);

    [LibraryImport(Lib, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(FileDescriptor fd, long length);

    public const int CLOCK_MONOTONIC = 1;
    public const int TFD_CLOEXEC = 0x80000;
    public const int TFD_TIMER_ABSTIME = 1;
    public const int EFD_CLOEXEC = 0x80000;
    public const short POLLIN = 0x1;

    [LibraryImport(Lib, EntryPoint = "timerfd_create", SetLastError = true)]
    public static partial int TimerfdCreate(int clock, int flags);

    /// <summary>new_value points at struct itimerspec {interval {sec, nsec}, value {sec, nsec}}: four longs.</summary>
    [LibraryImport(Lib, EntryPoint = "timerfd_settime", SetLastError = true)]
    public static partial int TimerfdSettime(FileDescriptor fd, int flags, long* newValue, long* oldValue);

    [LibraryImport(Lib, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int Eventfd(uint initial, int flags);

    /// <summary>fds points at struct pollfd {int fd; short events; short revents} × n.</summary>
    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(void* fds, nuint n, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(FileDescriptor fd, void* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(FileDescriptor fd, void* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "fallocate", SetLastError = true)]
    public static partial int Fallocate(FileDescriptor fd, int mode, long offset, long length);

    // statx(2), in glibc since 2.28: struct statx is 256 bytes; stx_mode (u16) is at offset 0x1c.
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const uint STATX_TYPE = 0x1;
    public const int StatxSize = 256;
    public const int StatxModeOffset = 0x1c;
    public const int S_IFMT = 0xf000;
    public const int S_IFSOCK = 0xc000;
    public const int S_IFLNK = 0xa000;
    public const int S_IFREG = 0x8000;
    public const int S_IFBLK = 0x6000;
    public const int S_IFDIR = 0x4000;
    public const int S_IFCHR = 0x2000;
    public const int S_IFIFO = 0x1000;

    [LibraryImport(Lib, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Statx(int dirfd, string path, int flags, uint mask, void* buffer);
}
