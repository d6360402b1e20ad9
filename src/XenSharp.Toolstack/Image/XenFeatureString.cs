using XenSharp.Abi;

namespace XenSharp.Toolstack.Image;

/// <summary>
/// Parses the FEATURES note / legacy FEATURES value: XENFEAT names joined by '|', a leading
/// '!' marking a feature the kernel cannot run without (libelf elf_xen_parse_features).
/// </summary>
internal static class XenFeatureString
{
    // libelf's table; other XENFEAT bits can only be claimed through SUPPORTED_FEATURES.
    private static readonly (string Name, int Bit)[] KnownFeatures =
    [
        ("writable_page_tables", XenFeature.WritablePageTables),
        ("writable_descriptor_tables", XenFeature.WritableDescriptorTables),
        ("auto_translated_physmap", XenFeature.AutoTranslatedPhysmap),
        ("supervisor_mode_kernel", XenFeature.SupervisorModeKernel),
        ("pae_pgdir_above_4gb", XenFeature.PaePgdirAbove4Gb),
        ("hvm_callback_vector", XenFeature.HvmCallbackVector),
        ("dom0", XenFeature.Dom0),
    ];

    public static void Apply(string features, XenParameters parameters, string name)
    {
        foreach (string token in features.Split('|'))
        {
            bool required = token.StartsWith('!');
            string feature = required ? token[1..] : token;
            int? bit = BitOf(feature);

            if (bit is null)
            {
                // An optional feature Xen does not know is harmless to ignore; a required one
                // means the kernel would break, so libelf refuses it.
                if (required)
                    throw KernelImageException.For(name, $"kernel requires unknown feature '{token}'");
                continue;
            }

            uint mask = 1u << bit.Value;
            parameters.FeaturesSupported |= mask;
            if (required)
                parameters.FeaturesRequired |= mask;
        }
    }

    private static int? BitOf(string feature)
    {
        foreach (var (known, bit) in KnownFeatures)
        {
            if (string.Equals(known, feature, StringComparison.Ordinal))
                return bit;
        }

        return null;
    }
}
