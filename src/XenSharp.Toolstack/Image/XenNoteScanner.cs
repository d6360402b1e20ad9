using System.Buffers.Binary;

namespace XenSharp.Toolstack.Image;

/// <summary>
/// Walks the ELF notes in one PT_NOTE segment or SHT_NOTE section and hands every note owned by
/// "Xen" to <see cref="XenNoteInterpreter"/> (libelf elf_xen_parse_notes).
/// </summary>
internal sealed class XenNoteScanner
{
    // libelf's ELF_MAX_TOTAL_NOTE_COUNT, counted across all regions of one image.
    private const int MaxTotalNotes = 65536;
    private const int NoteHeaderSize = 12;

    private readonly string _name;
    private int _totalNotes;

    public XenNoteScanner(string name) => _name = name;

    /// <summary>Applies the Xen notes in [offset, offset + size) and returns how many there were.</summary>
    public int Scan(ReadOnlySpan<byte> file, ulong offset, ulong size, string region, XenParameters parameters)
    {
        if (!FileRange.Fits(offset, size, file.Length))
            throw KernelImageException.For(_name, $"{region} lies outside the file");

        var notes = file.Slice((int)offset, (int)size);
        int xenNotes = 0;
        int pos = 0;

        // Fewer than 12 trailing bytes cannot hold a note; they are alignment padding, not an error.
        while (notes.Length - pos >= NoteHeaderSize)
        {
            if (++_totalNotes > MaxTotalNotes)
                throw KernelImageException.For(_name, "too many ELF notes");

            uint nameSize = BinaryPrimitives.ReadUInt32LittleEndian(notes[pos..]);
            uint descSize = BinaryPrimitives.ReadUInt32LittleEndian(notes[(pos + 4)..]);
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(notes[(pos + 8)..]);

            // Name and descriptor are each padded to 4 bytes. Sizes are 32-bit, so the padded
            // sizes computed in 64 bits cannot wrap; they are compared to what is left.
            int nameStart = pos + NoteHeaderSize;
            ulong paddedNameSize = ((ulong)nameSize + 3) & ~3UL;
            if (paddedNameSize > (ulong)(notes.Length - nameStart))
                throw KernelImageException.For(_name, $"{region}: note name (namesz {nameSize}) runs past the end of the notes");

            int descStart = nameStart + (int)paddedNameSize;
            if (descSize > (ulong)(notes.Length - descStart))
                throw KernelImageException.For(_name, $"{region}: note descriptor (descsz {descSize}) runs past the end of the notes");

            if (IsXenOwned(notes.Slice(nameStart, (int)nameSize)))
            {
                XenNoteInterpreter.Apply(type, notes.Slice(descStart, (int)descSize), parameters, _name);
                xenNotes++;
            }

            // The last note's descriptor padding may be cut off by the region's end.
            ulong paddedDescSize = ((ulong)descSize + 3) & ~3UL;
            if (paddedDescSize >= (ulong)(notes.Length - descStart))
                break;
            pos = descStart + (int)paddedDescSize;
        }

        return xenNotes;
    }

    private static bool IsXenOwned(ReadOnlySpan<byte> owner)
    {
        int end = owner.IndexOf((byte)0);
        if (end >= 0)
            owner = owner[..end];
        return owner.SequenceEqual("Xen"u8);
    }
}
