using System.Runtime.InteropServices;

namespace XenSharp.Kvm.Native;

/// <summary>ioctl that throws <see cref="KvmException"/> on failure.</summary>
internal static unsafe class Ioctl
{
    // The .NET runtime itself sends signals to threads (GC suspension), so any blocking call may see EINTR; every
    // ioctl routed through here is safe to repeat. KVM_RUN does not come here: it reports EINTR to its caller.
    public static int Invoke(FileDescriptor fd, uint request, void* arg, string name, string? context = null)
    {
        while (true)
        {
            int rc = LibC.Ioctl(fd, request, arg);
            if (rc >= 0)
            {
                return rc;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != ErrnoNames.EINTR)
            {
                throw new KvmException(name, errno, context);
            }
        }
    }

    public static int Invoke(FileDescriptor fd, uint request, nuint arg, string name, string? context = null)
    {
        while (true)
        {
            int rc = LibC.Ioctl(fd, request, arg);
            if (rc >= 0)
            {
                return rc;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != ErrnoNames.EINTR)
            {
                throw new KvmException(name, errno, context);
            }
        }
    }
}
