using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace XenSharp.Backends.Block;

/// <summary>The libc calls a disk image needs that .NET does not offer: fdatasync and fallocate's hole punching.</summary>
internal static class HostFileCalls
{
    private const int FallocKeepSize = 1;
    private const int FallocPunchHole = 2;

    /// <summary>fdatasync(2): 0, or the errno.</summary>
    public static int DataSync(SafeFileHandle file) => WithFd(file, fd => fdatasync(fd) == 0 ? 0 : Marshal.GetLastPInvokeError());

    /// <summary>fallocate(PUNCH_HOLE | KEEP_SIZE): 0, or the errno (EOPNOTSUPP where the file system cannot).</summary>
    public static int PunchHole(SafeFileHandle file, long offset, long length) =>
        WithFd(file, fd => fallocate(fd, FallocPunchHole | FallocKeepSize, offset, length) == 0 ? 0 : Marshal.GetLastPInvokeError());

    /// <summary>lseek(SEEK_END): a block device's size (fstat has none for it), or -1.</summary>
    public static long EndOffset(SafeFileHandle file)
    {
        long end = -1;
        WithFd(file, fd =>
        {
            end = lseek(fd, 0, 2);
            return 0;
        });
        return end;
    }

    private static int WithFd(SafeFileHandle file, Func<int, int> call)
    {
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            return call((int)file.DangerousGetHandle());
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    // DllImport, not LibraryImport: the arguments are all blittable, and this project compiles no unsafe code.
    [DllImport("libc", SetLastError = true)]
    private static extern long lseek(int fd, long offset, int whence);

    [DllImport("libc", SetLastError = true)]
    private static extern int fdatasync(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int fallocate(int fd, int mode, long offset, long length);
}
