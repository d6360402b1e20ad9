using XenSharp.Abi;

namespace XenSharp.Toolstack.Image;

/// <summary>Features a kernel may demand that a PV domU cannot give it (xg_dom_elfloader.c, xg_dom_x86.c bootearly).</summary>
internal static class PvDomUFeatureChecks
{
    public static void Check(XenGuestInfo info, string name)
    {
        if (Requires(info, XenFeature.Dom0))
            throw KernelImageException.For(name, "kernel requires dom0 and cannot run as an unprivileged domU");

        // Xen dropped PV guests whose page tables hold guest-physical frames; every PV
        // hypercall path here assumes machine frames.
        if (Requires(info, XenFeature.AutoTranslatedPhysmap))
            throw KernelImageException.For(name, "PV autotranslate guests are not supported (kernel requires auto_translated_physmap)");
    }

    private static bool Requires(XenGuestInfo info, int feature) => (info.FeaturesRequired & (1u << feature)) != 0;
}
