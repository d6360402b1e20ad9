namespace XenSharp.Backends.Xenstore;

/// <summary>
/// What a permission entry grants (XS_PERM_* of xenstore_lib.h). <see cref="Owner"/> and <see cref="Ignore"/> are the
/// store's own: the first marks a full-access answer for owners and privileged callers, the second an entry naming a
/// domain that does not exist (kept, shown by GET_PERMS, never matched).
/// </summary>
[Flags]
public enum XsAccess : uint
{
    None = 0,
    Read = 1,
    Write = 2,
    Both = Read | Write,
    Owner = 8,
    Ignore = 0x10,
}
