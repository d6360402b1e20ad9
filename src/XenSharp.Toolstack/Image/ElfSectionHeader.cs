using System.Buffers.Binary;

namespace XenSharp.Toolstack.Image;

/// <summary>One ELF64 section header as stored; nothing in it is trusted yet.</summary>
internal readonly record struct ElfSectionHeader(int Index, uint NameOffset, uint Type, ulong Offset, ulong Size)
{
    public static ElfSectionHeader Read(ReadOnlySpan<byte> entry, int index) => new(
        Index: index,
        NameOffset: BinaryPrimitives.ReadUInt32LittleEndian(entry),
        Type: BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]),
        Offset: BinaryPrimitives.ReadUInt64LittleEndian(entry[24..]),
        Size: BinaryPrimitives.ReadUInt64LittleEndian(entry[32..]));
}
