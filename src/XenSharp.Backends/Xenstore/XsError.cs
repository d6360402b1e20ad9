namespace XenSharp.Backends.Xenstore;

/// <summary>
/// The errors xenstored reports, in the order of xsd_errors (io/xs_wire.h). An XS_ERROR reply carries the member's
/// name, NUL-terminated ("ENOENT"); <see cref="None"/> is success and is never sent.
/// </summary>
public enum XsError
{
    None = 0,
    EINVAL,
    EACCES,
    EEXIST,
    EISDIR,
    ENOENT,
    ENOMEM,
    ENOSPC,
    EIO,
    ENOTEMPTY,
    ENOSYS,
    EROFS,
    EBUSY,
    EAGAIN,
    EISCONN,
    E2BIG,
    EPERM,
}
