using System.Buffers.Binary;
using System.Text;
using XenSharp.Abi;

namespace XenSharp.Toolstack.Image;

/// <summary>Records what one "Xen" note says (libelf elf_xen_parse_note). Later notes override earlier ones.</summary>
internal static class XenNoteInterpreter
{
    // libelf's ELF_MAX_STRING_LENGTH.
    private const int MaxStringLength = 4096;

    public static void Apply(uint type, ReadOnlySpan<byte> desc, XenParameters parameters, string name)
    {
        switch (type)
        {
            case ElfNoteType.Entry:
                parameters.Entry = Numeric(desc, "ENTRY", name);
                break;
            case ElfNoteType.HypercallPage:
                parameters.HypercallPage = Numeric(desc, "HYPERCALL_PAGE", name);
                break;
            case ElfNoteType.VirtBase:
                parameters.VirtBase = Numeric(desc, "VIRT_BASE", name);
                break;
            case ElfNoteType.PaddrOffset:
                parameters.PaddrOffset = Numeric(desc, "PADDR_OFFSET", name);
                break;
            case ElfNoteType.InitP2m:
                parameters.InitP2m = Numeric(desc, "INIT_P2M", name);
                break;
            case ElfNoteType.ModStartPfn:
                parameters.ModStartPfn = Numeric(desc, "MOD_START_PFN", name) != 0;
                break;
            case ElfNoteType.SuspendCancel:
                parameters.SuspendCancel = Numeric(desc, "SUSPEND_CANCEL", name) != 0;
                break;
            case ElfNoteType.XenVersion:
                parameters.XenVersion = String(desc, "XEN_VERSION", name);
                break;
            case ElfNoteType.GuestOs:
                parameters.GuestOs = String(desc, "GUEST_OS", name);
                break;
            case ElfNoteType.GuestVersion:
                parameters.GuestVersion = String(desc, "GUEST_VERSION", name);
                break;
            case ElfNoteType.Loader:
                parameters.Loader = String(desc, "LOADER", name);
                break;
            case ElfNoteType.PaeMode:
                parameters.PaeMode = String(desc, "PAE_MODE", name);
                break;
            case ElfNoteType.BsdSymtab:
                parameters.BsdSymtab = String(desc, "BSD_SYMTAB", name) == "yes";
                break;
            case ElfNoteType.Features:
                XenFeatureString.Apply(String(desc, "FEATURES", name), parameters, name);
                break;
            case ElfNoteType.SupportedFeatures:
                parameters.FeaturesSupported |= FirstFeatureWord(desc, name);
                break;

            // HV_START_LOW and PAE matter to 32-bit guests only, PHYS32_ENTRY/RELOC to PVH only,
            // L1_MFN_VALID to nothing in the builder; unknown types are skipped as libelf does.
            default:
                break;
        }
    }

    private static ulong Numeric(ReadOnlySpan<byte> desc, string note, string name) => desc.Length switch
    {
        // libelf takes 1-, 2-, 4- and 8-byte values. It reads any other size as 0; refusing it
        // instead keeps a corrupt ENTRY or VIRT_BASE from turning into a plausible-looking 0.
        1 => desc[0],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(desc),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(desc),
        8 => BinaryPrimitives.ReadUInt64LittleEndian(desc),
        _ => throw KernelImageException.For(name, $"Xen note {note} has a {desc.Length}-byte value (expected 1, 2, 4 or 8 bytes)"),
    };

    private static uint FirstFeatureWord(ReadOnlySpan<byte> desc, string name)
    {
        // An array of 32-bit XENFEAT submaps; Xen defines only submap 0 (XENFEAT_NR_SUBMAPS).
        if (desc.Length == 0 || desc.Length % 4 != 0)
            throw KernelImageException.For(name, $"Xen note SUPPORTED_FEATURES has {desc.Length} bytes (expected a multiple of 4)");
        return BinaryPrimitives.ReadUInt32LittleEndian(desc);
    }

    private static string String(ReadOnlySpan<byte> desc, string note, string name)
    {
        // A missing terminator is tolerated: the padding after the descriptor usually supplies
        // it in the file, which is where libelf finds it.
        int end = desc.IndexOf((byte)0);
        var text = end >= 0 ? desc[..end] : desc;
        if (text.Length > MaxStringLength)
            throw KernelImageException.For(name, $"Xen note {note} is longer than {MaxStringLength} bytes");

        // Latin-1 maps every byte to a char, so odd bytes cannot make decoding fail.
        return Encoding.Latin1.GetString(text);
    }
}
