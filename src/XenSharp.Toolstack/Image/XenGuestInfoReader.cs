namespace XenSharp.Toolstack.Image;

/// <summary>
/// Finds the kernel's Xen information where libelf looks for it (elf_xen_parse): Xen notes in
/// PT_NOTE segments; if there are none, in SHT_NOTE sections; if still none, the legacy
/// <c>__xen_guest</c> section. Then runs libelf's and the PV domU builder's checks.
/// </summary>
internal static class XenGuestInfoReader
{
    public static XenGuestInfo Read(ReadOnlySpan<byte> file, ElfLayout layout, IReadOnlyList<ElfSegment> segments, string name)
    {
        var parameters = new XenParameters();
        var scanner = new XenNoteScanner(name);
        int xenNotes = 0;

        foreach (var ph in layout.ProgramHeaders)
        {
            // Some binutils versions leave p_offset 0 on note segments; libelf skips those
            // rather than read the ELF header as notes.
            if (ph.Type != ElfConstants.PtNote || ph.Offset == 0)
                continue;
            xenNotes += scanner.Scan(file, ph.Offset, ph.FileSize, $"PT_NOTE segment {ph.Index}", parameters);
        }

        if (xenNotes == 0)
        {
            foreach (var section in layout.SectionHeaders.Skip(1))
            {
                if (section.Type != ElfConstants.ShtNote)
                    continue;
                xenNotes += scanner.Scan(file, section.Offset, section.Size, $"SHT_NOTE section {section.Index}", parameters);
            }
        }

        bool fromLegacySection = false;
        if (xenNotes == 0)
        {
            var legacy = layout.FindSection(file, "__xen_guest"u8, name)
                ?? throw KernelImageException.For(name, "no Xen ELF notes and no __xen_guest section: not a Xen PV kernel");
            if (!FileRange.Fits(legacy.Offset, legacy.Size, file.Length))
                throw KernelImageException.For(name, $"__xen_guest section (section {legacy.Index}) lies outside the file");

            parameters = LegacyGuestString.Parse(file.Slice((int)legacy.Offset, (int)legacy.Size), name);
            fromLegacySection = true;
        }

        XenNoteChecks.Check(parameters, name);
        var info = XenAddressLayout.Compute(parameters, segments, layout.Header.Entry, fromLegacySection, name);
        PvDomUFeatureChecks.Check(info, name);
        return info;
    }
}
