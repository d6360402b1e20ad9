using System.Runtime.InteropServices;

namespace XenSharp.Kvm.Native;

/// <summary>Owns a Linux file descriptor. A SafeHandle so that an fd in use by a blocked ioctl (KVM_RUN on another thread)
/// is not closed and reused under it, and so that a forgotten Dispose still closes it.</summary>
internal sealed class FileDescriptor : SafeHandle
{
    public FileDescriptor()
        : base(invalidHandleValue: -1, ownsHandle: true)
    {
    }

    public FileDescriptor(int fd)
        : this()
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => handle < 0;

    protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;
}
