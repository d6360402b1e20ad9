namespace XenSharp.Abi;

/// <summary>Xen error numbers (xen/include/public/errno.h); hypercalls return their negation.</summary>
public static class XenErrno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int ENXIO = 6;
    public const int E2BIG = 7;
    public const int ENOEXEC = 8;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EFAULT = 14;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int ERANGE = 34;
    public const int ENOSYS = 38;
    public const int ENODATA = 61;
    public const int ETIME = 62;
    public const int EOPNOTSUPP = 95;
    public const int ETIMEDOUT = 110;
}
