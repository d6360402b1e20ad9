using System.Buffers.Binary;

namespace XenSharp.Toolstack.Image;

/// <summary>The fields of an ELF64 file header that the PV builder uses, after identity checks.</summary>
internal readonly record struct ElfFileHeader(
    ulong Entry,
    ulong ProgramHeaderOffset,
    ulong SectionHeaderOffset,
    ushort ProgramHeaderEntrySize,
    ushort ProgramHeaderCount,
    ushort SectionHeaderEntrySize,
    ushort SectionHeaderCount,
    ushort SectionNameTableIndex)
{
    public static ElfFileHeader Read(ReadOnlySpan<byte> file, string name)
    {
        if (file.Length < ElfConstants.Magic.Length || !file[..ElfConstants.Magic.Length].SequenceEqual(ElfConstants.Magic))
            throw KernelImageException.For(name, "not an ELF file");

        // e_machine is the last field needed to say what kind of ELF this is, so the identity
        // message can be given before insisting on a full 64-byte header.
        if (file.Length < 20)
            throw KernelImageException.For(name, "truncated ELF header");

        byte data = file[ElfConstants.IdentData];
        if (data != ElfConstants.DataLittleEndian)
            throw KernelImageException.For(name, $"not a little-endian ELF (data encoding {data})");

        byte elfClass = file[ElfConstants.IdentClass];
        ushort machine = BinaryPrimitives.ReadUInt16LittleEndian(file[18..]);
        if (elfClass != ElfConstants.Class64 || machine != ElfConstants.MachineX86_64)
            throw KernelImageException.For(name, $"not a 64-bit x86 ELF (class {elfClass}, machine {machine})");

        if (file.Length < ElfConstants.FileHeaderSize)
            throw KernelImageException.For(name, "truncated ELF header");

        ushort type = BinaryPrimitives.ReadUInt16LittleEndian(file[16..]);
        if (type != ElfConstants.TypeExecutable)
            throw KernelImageException.For(name, $"not an executable ELF (e_type {type})");

        return new ElfFileHeader(
            Entry: BinaryPrimitives.ReadUInt64LittleEndian(file[24..]),
            ProgramHeaderOffset: BinaryPrimitives.ReadUInt64LittleEndian(file[32..]),
            SectionHeaderOffset: BinaryPrimitives.ReadUInt64LittleEndian(file[40..]),
            ProgramHeaderEntrySize: BinaryPrimitives.ReadUInt16LittleEndian(file[54..]),
            ProgramHeaderCount: BinaryPrimitives.ReadUInt16LittleEndian(file[56..]),
            SectionHeaderEntrySize: BinaryPrimitives.ReadUInt16LittleEndian(file[58..]),
            SectionHeaderCount: BinaryPrimitives.ReadUInt16LittleEndian(file[60..]),
            SectionNameTableIndex: BinaryPrimitives.ReadUInt16LittleEndian(file[62..]));
    }
}
