namespace XenSharp.Toolstack.Image;

/// <summary>Size limits that keep a small hostile file from making the builder allocate gigabytes.</summary>
internal static class KernelImageLimits
{
    /// <summary>
    /// Largest loaded image (VirtKernelEnd - VirtKernelStart). x86-64 Linux's kernel mapping is
    /// at most 1 GiB (KERNEL_IMAGE_SIZE), so no real PV kernel needs more; a bss claiming more
    /// would otherwise be honoured with a buffer that size.
    /// </summary>
    public const ulong MaxImageSpan = 1UL << 30;

    /// <summary>
    /// Largest kernel file <see cref="KernelImage.Load"/> reads (an unstripped vmlinux is a few hundred MiB), and the
    /// largest size a compressed kernel may claim to unpack to (a gzip trailer, a bzImage payload's size field).
    /// </summary>
    public const long MaxFileSize = 1L << 30;
}
