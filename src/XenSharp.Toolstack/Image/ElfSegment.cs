namespace XenSharp.Toolstack.Image;

/// <summary>
/// A loadable ELF program header, with the values exactly as the file states them.
/// Where the PV builder puts the segment is <see cref="KernelImage.LoadAddressOf"/>, not
/// <see cref="VirtualAddress"/>: libelf places segments by their physical address.
/// </summary>
public sealed record ElfSegment(
    ulong VirtualAddress,
    ulong PhysicalAddress,
    ulong FileOffset,
    ulong FileSize,
    ulong MemorySize,
    uint Flags);
