using System.Buffers.Binary;
using System.Text;

namespace XenSharp.Tests.Image;

/// <summary>
/// Writes small ELF64 files in memory so the kernel reader can be tested without binary
/// fixtures. Layout: header, program headers, segment data, section data, section names,
/// section headers (null section, the added sections, then .shstrtab).
/// </summary>
internal sealed class ElfBuilder
{
    public const uint PfR = 4;
    public const uint PfW = 2;
    public const uint PfX = 1;
    public const uint PtLoad = 1;
    public const uint PtNote = 4;
    public const uint ShtProgbits = 1;
    public const uint ShtNote = 7;

    private readonly List<SegmentSpec> _segments = [];
    private readonly List<SectionSpec> _sections = [];

    public byte Class { get; set; } = 2;

    public byte Data { get; set; } = 1;

    public ushort Machine { get; set; } = 62;

    public ushort Type { get; set; } = 2;

    public ulong Entry { get; set; }

    public ElfBuilder AddLoad(ulong vaddr, ulong paddr, byte[] data, ulong memSize, uint flags = PfR | PfX) =>
        AddProgramHeader(PtLoad, flags, vaddr, paddr, data, memSize);

    public ElfBuilder AddNoteSegment(byte[] notes) =>
        AddProgramHeader(PtNote, PfR, 0, 0, notes, (ulong)notes.Length);

    public ElfBuilder AddProgramHeader(uint type, uint flags, ulong vaddr, ulong paddr, byte[] data, ulong memSize)
    {
        _segments.Add(new SegmentSpec(type, flags, vaddr, paddr, data, memSize));
        return this;
    }

    public ElfBuilder AddSection(string name, uint type, byte[] data)
    {
        _sections.Add(new SectionSpec(name, type, data));
        return this;
    }

    public BuiltElf Build()
    {
        const int headerSize = 64, phdrSize = 56, shdrSize = 64;

        int pos = headerSize + _segments.Count * phdrSize;
        var segmentOffsets = new List<int>();
        foreach (var segment in _segments)
        {
            pos = Align8(pos);
            segmentOffsets.Add(pos);
            pos += segment.Data.Length;
        }

        var sectionOffsets = new List<int>();
        foreach (var section in _sections)
        {
            pos = Align8(pos);
            sectionOffsets.Add(pos);
            pos += section.Data.Length;
        }

        var names = new MemoryStream();
        names.WriteByte(0);
        var nameOffsets = new List<int>();
        foreach (string sectionName in _sections.Select(s => s.Name).Append(".shstrtab"))
        {
            nameOffsets.Add((int)names.Length);
            names.Write(Encoding.ASCII.GetBytes(sectionName + "\0"));
        }

        byte[] nameTable = names.ToArray();
        bool hasSections = _sections.Count > 0;
        int nameTableOffset = pos;
        int sectionHeaderOffset = 0;
        int sectionCount = 0;
        if (hasSections)
        {
            pos += nameTable.Length;
            sectionHeaderOffset = Align8(pos);
            sectionCount = _sections.Count + 2;
            pos = sectionHeaderOffset + sectionCount * shdrSize;
        }

        var file = new byte[pos];
        var span = file.AsSpan();
        "\x7F"u8.CopyTo(span);
        "ELF"u8.CopyTo(span[1..]);
        span[4] = Class;
        span[5] = Data;
        span[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(span[16..], Type);
        BinaryPrimitives.WriteUInt16LittleEndian(span[18..], Machine);
        BinaryPrimitives.WriteUInt32LittleEndian(span[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(span[24..], Entry);
        BinaryPrimitives.WriteUInt64LittleEndian(span[32..], _segments.Count > 0 ? (ulong)headerSize : 0);
        BinaryPrimitives.WriteUInt64LittleEndian(span[40..], (ulong)sectionHeaderOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(span[52..], headerSize);
        BinaryPrimitives.WriteUInt16LittleEndian(span[54..], phdrSize);
        BinaryPrimitives.WriteUInt16LittleEndian(span[56..], (ushort)_segments.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(span[58..], shdrSize);
        BinaryPrimitives.WriteUInt16LittleEndian(span[60..], (ushort)sectionCount);
        BinaryPrimitives.WriteUInt16LittleEndian(span[62..], (ushort)(hasSections ? sectionCount - 1 : 0));

        for (int i = 0; i < _segments.Count; i++)
        {
            var segment = _segments[i];
            var ph = span.Slice(headerSize + i * phdrSize, phdrSize);
            BinaryPrimitives.WriteUInt32LittleEndian(ph, segment.Type);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], segment.Flags);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], (ulong)segmentOffsets[i]);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], segment.VirtualAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], segment.PhysicalAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], (ulong)segment.Data.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], segment.MemorySize);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[48..], 0x1000);
            segment.Data.CopyTo(span[segmentOffsets[i]..]);
        }

        if (hasSections)
        {
            nameTable.CopyTo(span[nameTableOffset..]);
            for (int i = 0; i < _sections.Count; i++)
            {
                _sections[i].Data.CopyTo(span[sectionOffsets[i]..]);
                WriteSectionHeader(span, sectionHeaderOffset, i + 1, nameOffsets[i], _sections[i].Type, sectionOffsets[i], _sections[i].Data.Length);
            }

            WriteSectionHeader(span, sectionHeaderOffset, sectionCount - 1, nameOffsets[^1], 3, nameTableOffset, nameTable.Length);
        }

        return new BuiltElf(file, segmentOffsets, sectionHeaderOffset);
    }

    private static void WriteSectionHeader(Span<byte> file, int tableOffset, int index, int nameOffset, uint type, int offset, int size)
    {
        var sh = file.Slice(tableOffset + index * 64, 64);
        BinaryPrimitives.WriteUInt32LittleEndian(sh, (uint)nameOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(sh[4..], type);
        BinaryPrimitives.WriteUInt64LittleEndian(sh[24..], (ulong)offset);
        BinaryPrimitives.WriteUInt64LittleEndian(sh[32..], (ulong)size);
        BinaryPrimitives.WriteUInt64LittleEndian(sh[48..], 4);
    }

    private static int Align8(int value) => (value + 7) & ~7;

    private sealed record SegmentSpec(uint Type, uint Flags, ulong VirtualAddress, ulong PhysicalAddress, byte[] Data, ulong MemorySize);

    private sealed record SectionSpec(string Name, uint Type, byte[] Data);
}
