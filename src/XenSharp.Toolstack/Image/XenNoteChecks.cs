namespace XenSharp.Toolstack.Image;

/// <summary>The "is this a kernel Xen would load" checks on the parsed strings (libelf elf_xen_note_check).</summary>
internal static class XenNoteChecks
{
    public static void Check(XenParameters parameters, string name)
    {
        // Prefix matches, case-sensitive, exactly as libelf's strncmp.
        bool genericLoader = parameters.Loader.StartsWith("generic", StringComparison.Ordinal);
        bool linux = parameters.GuestOs.StartsWith("linux", StringComparison.Ordinal);
        if (!genericLoader && !linux)
        {
            throw KernelImageException.For(name,
                $"only kernels for the generic loader or Linux can be loaded (LOADER '{parameters.Loader}', GUEST_OS '{parameters.GuestOs}')");
        }

        if (!parameters.XenVersion.StartsWith("xen-3.0", StringComparison.Ordinal))
            throw KernelImageException.For(name, $"kernel is not built for Xen 3.0 ABI (XEN_VERSION '{parameters.XenVersion}', expected 'xen-3.0...')");
    }
}
