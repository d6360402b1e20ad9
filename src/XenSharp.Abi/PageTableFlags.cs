namespace XenSharp.Abi;

/// <summary>x86-64 page-table entry bits, and Xen's software bit for guest-kernel pages.</summary>
public static class PageTableFlags
{
    public const ulong Present = 1UL << 0;
    public const ulong Writable = 1UL << 1;
    public const ulong User = 1UL << 2;
    public const ulong WriteThrough = 1UL << 3;
    public const ulong CacheDisable = 1UL << 4;
    public const ulong Accessed = 1UL << 5;
    public const ulong Dirty = 1UL << 6;
    public const ulong PageSize = 1UL << 7;
    public const ulong Global = 1UL << 8;
    /// <summary>_PAGE_GUEST_KERNEL: Xen marks L1 entries of guest-kernel-only pages with bit 52.</summary>
    public const ulong GuestKernel = 1UL << 52;
    public const ulong NoExecute = 1UL << 63;
    public const ulong AddressMask = 0x000f_ffff_ffff_f000;
}
