using System.Buffers.Binary;

namespace XenSharp.Toolstack.Image;

/// <summary>One ELF64 program header as stored; nothing in it is trusted yet.</summary>
internal readonly record struct ElfProgramHeader(
    int Index,
    uint Type,
    uint Flags,
    ulong Offset,
    ulong VirtualAddress,
    ulong PhysicalAddress,
    ulong FileSize,
    ulong MemorySize)
{
    // libelf skips PT_LOAD entries with no R/W/X permission at all, both when sizing the image
    // and when copying it, so they are not part of the kernel.
    public bool IsLoadable =>
        Type == ElfConstants.PtLoad
        && (Flags & (ElfConstants.PfRead | ElfConstants.PfWrite | ElfConstants.PfExecute)) != 0;

    public static ElfProgramHeader Read(ReadOnlySpan<byte> entry, int index) => new(
        Index: index,
        Type: BinaryPrimitives.ReadUInt32LittleEndian(entry),
        Flags: BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]),
        Offset: BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]),
        VirtualAddress: BinaryPrimitives.ReadUInt64LittleEndian(entry[16..]),
        PhysicalAddress: BinaryPrimitives.ReadUInt64LittleEndian(entry[24..]),
        FileSize: BinaryPrimitives.ReadUInt64LittleEndian(entry[32..]),
        MemorySize: BinaryPrimitives.ReadUInt64LittleEndian(entry[40..]));
}
