namespace XenSharp.Toolstack.Image;

/// <summary>
/// Applies libelf's address defaults and bounds checks for a PV guest (elf_parse_binary plus
/// elf_xen_addr_calc_check) and produces the final <see cref="XenGuestInfo"/>.
/// </summary>
/// <remarks>
/// libelf places every loadable segment by its physical address, ignoring p_vaddr:
/// load address = p_paddr + (VIRT_BASE - PADDR_OFFSET), all modulo 2^64. The image spans
/// [min p_paddr, max(p_paddr + p_memsz)) shifted by the same offset.
/// </remarks>
internal static class XenAddressLayout
{
    private const ulong PageMask = 0xFFF;

    public static XenGuestInfo Compute(
        XenParameters parameters,
        IReadOnlyList<ElfSegment> segments,
        ulong elfEntry,
        bool fromLegacySection,
        string name)
    {
        // An offset from physical addresses means nothing without the base it is relative to.
        if (parameters.PaddrOffset is not null && parameters.VirtBase is null)
            throw KernelImageException.For(name, "PADDR_OFFSET is set but VIRT_BASE is not");

        ulong virtBase = parameters.VirtBase ?? 0;

        // Old kernels using the legacy string wrote virt_base into p_paddr, so there the
        // default offset is VIRT_BASE; kernels with notes write real physical addresses.
        ulong paddrOffset = parameters.PaddrOffset ?? (fromLegacySection ? virtBase : 0);
        ulong virtOffset = unchecked(virtBase - paddrOffset);

        if (segments.Count == 0)
            throw KernelImageException.For(name, "no loadable (PT_LOAD) segments");

        ulong physStart = ulong.MaxValue;
        ulong physEnd = 0;
        ulong totalMemory = 0;
        foreach (var segment in segments)
        {
            // Segments are checked not to wrap when they are read.
            physStart = Math.Min(physStart, segment.PhysicalAddress);
            physEnd = Math.Max(physEnd, segment.PhysicalAddress + segment.MemorySize);
            totalMemory = SaturatingAdd(totalMemory, segment.MemorySize);
        }

        ulong kernelStart = unchecked(physStart + virtOffset);
        ulong kernelEnd = unchecked(physEnd + virtOffset);
        if (kernelStart > kernelEnd)
            throw KernelImageException.For(name, $"loaded image 0x{kernelStart:x}-0x{kernelEnd:x} wraps around the top of the address space");

        ulong span = kernelEnd - kernelStart;
        if (span > KernelImageLimits.MaxImageSpan)
            throw KernelImageException.For(name, $"loaded image is 0x{span:x} bytes, more than the 0x{KernelImageLimits.MaxImageSpan:x} allowed");

        // Overlapping segments are legal, but libelf stops copying at twice the image size so a
        // crafted file cannot make loading take quadratic time.
        if (totalMemory > 2 * span)
            throw KernelImageException.For(name, "loadable segments total more than twice the image size");

        ulong entry = parameters.Entry ?? elfEntry;
        if (entry < kernelStart || entry >= kernelEnd)
            throw KernelImageException.For(name, $"entry 0x{entry:x} outside the loaded image 0x{kernelStart:x}-0x{kernelEnd:x}");

        if (virtBase > kernelStart)
            throw KernelImageException.For(name, $"VIRT_BASE 0x{virtBase:x} is above the start of the loaded image 0x{kernelStart:x}");

        // The builder maps the P2M list at INIT_P2M; over the kernel it would clobber it.
        if (parameters.InitP2m is ulong p2m && p2m >= kernelStart && p2m < kernelEnd)
            throw KernelImageException.For(name, $"INIT_P2M 0x{p2m:x} lies inside the loaded image 0x{kernelStart:x}-0x{kernelEnd:x}");

        // The builder fills this page with stubs, so it must be a whole page of the image. The
        // image's last page is allocated in full, so only its start need be below the end.
        if (parameters.HypercallPage is ulong hypercallPage)
        {
            if ((hypercallPage & PageMask) != 0)
                throw KernelImageException.For(name, $"hypercall page 0x{hypercallPage:x} is not page-aligned");
            if (hypercallPage < kernelStart || hypercallPage >= kernelEnd)
                throw KernelImageException.For(name, $"hypercall page 0x{hypercallPage:x} outside the loaded image 0x{kernelStart:x}-0x{kernelEnd:x}");
        }

        return new XenGuestInfo
        {
            Entry = entry,
            VirtBase = virtBase,
            PaddrOffset = paddrOffset,
            HypercallPage = parameters.HypercallPage,
            InitP2m = parameters.InitP2m,
            GuestOs = parameters.GuestOs,
            Loader = parameters.Loader,
            XenVersion = parameters.XenVersion,
            GuestVersion = parameters.GuestVersion,
            PaeMode = parameters.PaeMode,
            FeaturesSupported = parameters.FeaturesSupported,
            FeaturesRequired = parameters.FeaturesRequired,
            ModStartPfn = parameters.ModStartPfn,
            SuspendCancel = parameters.SuspendCancel,
            BsdSymtab = parameters.BsdSymtab,
            VirtKernelStart = kernelStart,
            VirtKernelEnd = kernelEnd,
            FromLegacySection = fromLegacySection,
        };
    }

    private static ulong SaturatingAdd(ulong a, ulong b) => a > ulong.MaxValue - b ? ulong.MaxValue : a + b;
}
