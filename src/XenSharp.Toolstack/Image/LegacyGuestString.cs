using System.Text;

namespace XenSharp.Toolstack.Image;

/// <summary>
/// Parses the pre-notes <c>__xen_guest</c> section, "KEY=VALUE,KEY=VALUE,..." (libelf
/// elf_xen_parse_guest_info).
/// </summary>
internal static class LegacyGuestString
{
    public static XenParameters Parse(ReadOnlySpan<byte> section, string name)
    {
        // The string ends at its NUL; libelf would read on past the section, this stops at its end.
        int end = section.IndexOf((byte)0);
        string text = Encoding.Latin1.GetString(end >= 0 ? section[..end] : section);

        var parameters = new XenParameters();
        ulong? hypercallPageNumber = null;

        foreach (string item in text.Split(','))
        {
            int equals = item.IndexOf('=');
            string key = equals >= 0 ? item[..equals] : item;
            string value = equals >= 0 ? item[(equals + 1)..] : "";

            switch (key)
            {
                case "LOADER": parameters.Loader = value; break;
                case "GUEST_OS": parameters.GuestOs = value; break;
                case "GUEST_VER": parameters.GuestVersion = value; break;
                case "XEN_VER": parameters.XenVersion = value; break;
                case "PAE": parameters.PaeMode = value; break;

                // Unlike the note, the legacy key is a flag: present means yes, whatever the value.
                case "BSD_SYMTAB": parameters.BsdSymtab = true; break;
                case "VIRT_BASE": parameters.VirtBase = CUnsignedNumber.Parse(value); break;
                case "VIRT_ENTRY": parameters.Entry = CUnsignedNumber.Parse(value); break;
                case "ELF_PADDR_OFFSET": parameters.PaddrOffset = CUnsignedNumber.Parse(value); break;
                case "HYPERCALL_PAGE": hypercallPageNumber = CUnsignedNumber.Parse(value); break;
                case "FEATURES": XenFeatureString.Apply(value, parameters, name); break;
                default: break;
            }
        }

        // The legacy value is a page number relative to VIRT_BASE, not an address. The
        // arithmetic wraps as libelf's does; the result is range-checked later.
        if (hypercallPageNumber is ulong page)
            parameters.HypercallPage = unchecked((page << 12) + (parameters.VirtBase ?? 0));

        return parameters;
    }
}
