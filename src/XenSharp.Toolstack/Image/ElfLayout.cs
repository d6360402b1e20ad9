namespace XenSharp.Toolstack.Image;

/// <summary>
/// The header tables of a 64-bit x86 ELF executable, read with every table checked to lie
/// inside the file. Contents of segments and sections are checked by their users.
/// </summary>
internal sealed class ElfLayout
{
    private ElfLayout(ElfFileHeader header, ElfProgramHeader[] programHeaders, ElfSectionHeader[] sectionHeaders)
    {
        Header = header;
        ProgramHeaders = programHeaders;
        SectionHeaders = sectionHeaders;
    }

    public ElfFileHeader Header { get; }

    public IReadOnlyList<ElfProgramHeader> ProgramHeaders { get; }

    public IReadOnlyList<ElfSectionHeader> SectionHeaders { get; }

    public static ElfLayout Read(ReadOnlySpan<byte> file, string name)
    {
        var header = ElfFileHeader.Read(file, name);

        var programHeaders = new ElfProgramHeader[header.ProgramHeaderCount];
        if (programHeaders.Length > 0)
        {
            // A smaller stride would make entries overlap and fields read from the next entry.
            if (header.ProgramHeaderEntrySize < ElfConstants.ProgramHeaderSize)
                throw KernelImageException.For(name, $"program header entry size {header.ProgramHeaderEntrySize} is smaller than {ElfConstants.ProgramHeaderSize}");

            // Both factors are 16-bit, so the product cannot overflow 64 bits.
            ulong tableSize = (ulong)header.ProgramHeaderEntrySize * header.ProgramHeaderCount;
            if (!FileRange.Fits(header.ProgramHeaderOffset, tableSize, file.Length))
                throw KernelImageException.For(name, "truncated program header table");

            for (int i = 0; i < programHeaders.Length; i++)
            {
                int at = checked((int)header.ProgramHeaderOffset + i * header.ProgramHeaderEntrySize);
                programHeaders[i] = ElfProgramHeader.Read(file.Slice(at, ElfConstants.ProgramHeaderSize), i);
            }
        }

        // libelf refuses an image whose section header table runs past the end even when the
        // notes come from program headers, so the same image is refused here.
        var sectionHeaders = new ElfSectionHeader[header.SectionHeaderCount];
        if (sectionHeaders.Length > 0)
        {
            if (header.SectionHeaderEntrySize < ElfConstants.SectionHeaderSize)
                throw KernelImageException.For(name, $"section header entry size {header.SectionHeaderEntrySize} is smaller than {ElfConstants.SectionHeaderSize}");

            ulong tableSize = (ulong)header.SectionHeaderEntrySize * header.SectionHeaderCount;
            if (!FileRange.Fits(header.SectionHeaderOffset, tableSize, file.Length))
                throw KernelImageException.For(name, "truncated section header table");

            for (int i = 0; i < sectionHeaders.Length; i++)
            {
                int at = checked((int)header.SectionHeaderOffset + i * header.SectionHeaderEntrySize);
                sectionHeaders[i] = ElfSectionHeader.Read(file.Slice(at, ElfConstants.SectionHeaderSize), i);
            }
        }

        return new ElfLayout(header, programHeaders, sectionHeaders);
    }

    /// <summary>
    /// The first section (index 1 upwards, as libelf) with this exact name, or null when there is
    /// none or the file has no usable section name table.
    /// </summary>
    public ElfSectionHeader? FindSection(ReadOnlySpan<byte> file, ReadOnlySpan<byte> sectionName, string name)
    {
        int nameTableIndex = Header.SectionNameTableIndex;
        if (nameTableIndex == 0 || nameTableIndex >= SectionHeaders.Count)
            return null;

        var nameTable = SectionHeaders[nameTableIndex];
        if (!FileRange.Fits(nameTable.Offset, nameTable.Size, file.Length))
            throw KernelImageException.For(name, $"section name table (section {nameTableIndex}) lies outside the file");
        var names = file.Slice((int)nameTable.Offset, (int)nameTable.Size);

        for (int i = 1; i < SectionHeaders.Count; i++)
        {
            var section = SectionHeaders[i];
            if (section.NameOffset >= (ulong)names.Length)
                throw KernelImageException.For(name, $"section {i}: name offset 0x{section.NameOffset:x} lies outside the section name table");

            var candidate = names[(int)section.NameOffset..];
            int end = candidate.IndexOf((byte)0);
            if (end >= 0)
                candidate = candidate[..end];
            if (candidate.SequenceEqual(sectionName))
                return section;
        }

        return null;
    }
}
