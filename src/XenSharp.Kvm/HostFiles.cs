using System.Runtime.InteropServices;
using XenSharp.Kvm.Native;

namespace XenSharp.Kvm;

/// <summary>File-system questions the rest of XenSharp cannot answer through .NET: what kind of file a path names.</summary>
public static class HostFiles
{
    /// <summary>
    /// The type of what <paramref name="path"/> names, not following a final symbolic link (lstat's view);
    /// <see cref="HostFileType.None"/> when nothing is there.
    /// </summary>
    /// <exception cref="IOException">The path cannot be examined (no permission on a directory in it, too long, ...).</exception>
    public static unsafe HostFileType TypeOf(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte* buffer = stackalloc byte[LibC.StatxSize];
        if (LibC.Statx(LibC.AT_FDCWD, path, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_TYPE, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno is ErrnoNames.ENOENT or ErrnoNames.ENOTDIR
                ? HostFileType.None
                : throw new IOException($"{path}: cannot examine it: {ErrnoNames.Describe(errno)}");
        }

        return (*(ushort*)(buffer + LibC.StatxModeOffset) & LibC.S_IFMT) switch
        {
            LibC.S_IFREG => HostFileType.Regular,
            LibC.S_IFDIR => HostFileType.Directory,
            LibC.S_IFLNK => HostFileType.SymbolicLink,
            LibC.S_IFSOCK => HostFileType.Socket,
            LibC.S_IFIFO => HostFileType.Fifo,
            LibC.S_IFCHR => HostFileType.CharacterDevice,
            _ => HostFileType.BlockDevice,
        };
    }
}
