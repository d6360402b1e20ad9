namespace XenSharp.Toolstack.Image;

/// <summary>Checks the loadable program headers and turns them into <see cref="ElfSegment"/>s.</summary>
internal static class LoadSegmentReader
{
    public static IReadOnlyList<ElfSegment> Read(ElfLayout layout, int fileLength, string name)
    {
        var segments = new List<ElfSegment>();
        foreach (var ph in layout.ProgramHeaders)
        {
            if (!ph.IsLoadable)
                continue;

            // libelf would zero-fill memsz - filesz bytes, which underflows when filesz is larger.
            if (ph.FileSize > ph.MemorySize)
                throw KernelImageException.For(name, $"segment {ph.Index}: file size 0x{ph.FileSize:x} exceeds memory size 0x{ph.MemorySize:x}");

            // A pure-bss segment reads nothing, so its file offset does not matter.
            if (ph.FileSize > 0 && !FileRange.Fits(ph.Offset, ph.FileSize, fileLength))
                throw KernelImageException.For(name, $"segment {ph.Index}: file bytes 0x{ph.Offset:x}+0x{ph.FileSize:x} lie outside the file");

            if (ph.PhysicalAddress > ulong.MaxValue - ph.MemorySize)
                throw KernelImageException.For(name, $"segment {ph.Index}: physical address 0x{ph.PhysicalAddress:x} + size 0x{ph.MemorySize:x} wraps around");

            segments.Add(new ElfSegment(ph.VirtualAddress, ph.PhysicalAddress, ph.Offset, ph.FileSize, ph.MemorySize, ph.Flags));
        }

        // Read-only so a caller cannot add a segment that CopyTo would then trust.
        return segments.AsReadOnly();
    }
}
