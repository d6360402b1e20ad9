namespace XenSharp.Toolstack.Image;

/// <summary>
/// A 64-bit x86 Xen PV kernel ELF, checked the way Xen's libelf and PV domain builder check it.
/// Everything in the file is treated as hostile: any inconsistency is a
/// <see cref="KernelImageException"/>, and nothing is allocated in proportion to a size the
/// file merely claims.
/// </summary>
public sealed class KernelImage
{
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly ulong _virtOffset;

    private KernelImage(ReadOnlyMemory<byte> bytes, IReadOnlyList<ElfSegment> loadSegments, XenGuestInfo xen)
    {
        _bytes = bytes;
        LoadSegments = loadSegments;
        Xen = xen;
        _virtOffset = unchecked(xen.VirtBase - xen.PaddrOffset);
    }

    /// <summary>The PT_LOAD segments libelf loads (those with at least one of R, W, X), in file order.</summary>
    public IReadOnlyList<ElfSegment> LoadSegments { get; }

    public XenGuestInfo Xen { get; }

    /// <summary>Size in bytes of the loaded image, the buffer <see cref="CopyTo"/> needs.</summary>
    public int ImageSize => (int)(Xen.VirtKernelEnd - Xen.VirtKernelStart);

    /// <summary>
    /// Reads and checks a kernel file, unpacking it first where libxc would: a gzipped file is gunzipped
    /// (<see cref="GzipKernel"/>), then a Linux bzImage gives up the vmlinux in its payload (<see cref="BzImage"/>).
    /// </summary>
    public static KernelImage Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);

        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > KernelImageLimits.MaxFileSize)
                throw KernelImageException.For(path, $"kernel file is {stream.Length} bytes, more than the {KernelImageLimits.MaxFileSize} allowed");
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new KernelImageException($"{path}: no such kernel file", e);
        }
        // NotSupportedException: a FIFO or other unseekable file has no length to check.
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new KernelImageException($"{path}: cannot read kernel file: {e.Message}", e);
        }

        return Parse(BzImage.Unpack(GzipKernel.Unpack(bytes, path), path), path);
    }

    public static KernelImage Parse(ReadOnlyMemory<byte> bytes, string nameForMessages)
    {
        ArgumentNullException.ThrowIfNull(nameForMessages);

        var file = bytes.Span;
        var layout = ElfLayout.Read(file, nameForMessages);
        var segments = LoadSegmentReader.Read(layout, file.Length, nameForMessages);
        var xen = XenGuestInfoReader.Read(file, layout, segments, nameForMessages);
        return new KernelImage(bytes, segments, xen);
    }

    /// <summary>
    /// The virtual address the PV builder loads a segment at: p_paddr + VIRT_BASE - PADDR_OFFSET
    /// (libelf ignores p_vaddr). For ordinary kernels this equals <see cref="ElfSegment.VirtualAddress"/>.
    /// </summary>
    public ulong LoadAddressOf(ElfSegment segment)
    {
        ArgumentNullException.ThrowIfNull(segment);
        return unchecked(segment.PhysicalAddress + _virtOffset);
    }

    /// <summary>The bytes the file holds for a segment (FileSize of them; the rest of MemorySize is zeros).</summary>
    public ReadOnlySpan<byte> SegmentFileBytes(ElfSegment s)
    {
        ArgumentNullException.ThrowIfNull(s);
        if (s.FileSize == 0)
            return ReadOnlySpan<byte>.Empty;
        if (!FileRange.Fits(s.FileOffset, s.FileSize, _bytes.Length))
            throw new ArgumentOutOfRangeException(nameof(s), "segment does not lie inside this image's file");
        return _bytes.Span.Slice((int)s.FileOffset, (int)s.FileSize);
    }

    /// <summary>
    /// Lays the image out as the guest sees it: destination[0] is VirtKernelStart. Each segment is
    /// copied in file order, its bss zeroed; later segments overwrite earlier ones where they
    /// overlap, as in libelf. Gaps between segments are zeroed too, so the result does not depend
    /// on what the buffer held.
    /// </summary>
    public void CopyTo(Span<byte> destination)
    {
        int size = ImageSize;
        if (destination.Length < size)
            throw new ArgumentException($"destination holds {destination.Length} bytes; the image needs {size}", nameof(destination));

        var image = destination[..size];
        image.Clear();
        foreach (var segment in LoadSegments)
        {
            // Parse guaranteed each segment lies inside [VirtKernelStart, VirtKernelEnd), and that
            // span is at most 1 GiB, so these narrowings are exact.
            int at = (int)(LoadAddressOf(segment) - Xen.VirtKernelStart);
            var target = image.Slice(at, (int)segment.MemorySize);
            var fileBytes = SegmentFileBytes(segment);
            fileBytes.CopyTo(target);
            target[fileBytes.Length..].Clear();
        }
    }
}
