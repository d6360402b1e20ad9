using XenSharp.Kvm.Native;

namespace XenSharp.Kvm;

/// <summary>A KVM ioctl (or one of the few other system calls this layer makes on KVM descriptors) failed.</summary>
public sealed class KvmException : Exception
{
    public KvmException(string ioctl, int errno)
        : this(ioctl, errno, context: null)
    {
    }

    /// <param name="context">What was being asked, e.g. the slot and range; helps more than the bare errno.</param>
    public KvmException(string ioctl, int errno, string? context)
        : base(Format(ioctl, errno, context))
    {
        Ioctl = ioctl;
        Errno = errno;
    }

    /// <summary>For calls that "succeed" but did less than asked (KVM_SET_MSRS): there is no errno, so <see cref="Errno"/> is 0.</summary>
    public KvmException(string ioctl, string message)
        : base(message)
    {
        Ioctl = ioctl;
        Errno = 0;
    }

    /// <summary>The ioctl's name as in linux/kvm.h, e.g. "KVM_SET_SREGS".</summary>
    public string Ioctl { get; }

    /// <summary>The errno, or 0 when the call returned without an error but did not do everything asked.</summary>
    public int Errno { get; }

    private static string Format(string ioctl, int errno, string? context) =>
        context is null
            ? $"{ioctl} failed: {ErrnoNames.Describe(errno)}"
            : $"{ioctl} failed ({context}): {ErrnoNames.Describe(errno)}";
}
