using System.Buffers.Binary;

namespace XenSharp.Tests.Image;

/// <summary>An ELF file from <see cref="ElfBuilder"/>, with offsets so tests can corrupt precise fields.</summary>
internal sealed class BuiltElf(byte[] bytes, IReadOnlyList<int> segmentDataOffsets, int sectionHeaderTableOffset)
{
    public byte[] Bytes { get; } = bytes;

    public IReadOnlyList<int> SegmentDataOffsets { get; } = segmentDataOffsets;

    /// <summary>Offset of the program header for the i-th added segment.</summary>
    public static int ProgramHeaderAt(int index) => 64 + index * 56;

    /// <summary>Offset of section header <paramref name="index"/>; added sections start at 1.</summary>
    public int SectionHeaderAt(int index) => sectionHeaderTableOffset + index * 64;

    public BuiltElf Put16(int offset, ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(Bytes.AsSpan(offset), value);
        return this;
    }

    public BuiltElf Put32(int offset, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(Bytes.AsSpan(offset), value);
        return this;
    }

    public BuiltElf Put64(int offset, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(Bytes.AsSpan(offset), value);
        return this;
    }
}
