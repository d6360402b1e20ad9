namespace XenSharp.Toolstack.Config;

/// <summary>
/// The settings xl knows, in two sets that never overlap: those XenSharp acts on (<see cref="Understood"/>; every one is
/// read by <see cref="DomainConfigReader"/>) and those it does not act on yet (<see cref="NotSupported"/>: every other
/// key that tools/xl/xl_parse.c reads, as of Xen 4.23-unstable). <see cref="Understood"/> also holds the BVT
/// scheduler's keys, which xl never had (its BVT died with xm): they are named after the arguments of
/// <c>xm sched-bvt</c> (mcuadv, warpback, warpvalue, warpl, warpu), and XenSharp's own vfr_rules (the VFR's rules per
/// VIF, a top-level key so that every vif entry stays valid for xl). A key in neither set is unknown to xl too. The
/// reader warns once for each key of a file that is not understood; xl itself ignores unknown keys silently.
/// </summary>
public static class XlKeys
{
    public static readonly IReadOnlySet<string> Understood = new HashSet<string>(StringComparer.Ordinal)
    {
        "name", "kernel", "ramdisk", "memory", "maxmem", "vcpus", "cmdline", "root", "extra",
        "on_poweroff", "on_reboot", "on_crash", "type", "builder", "cpu_weight",
        "mcuadv", "warpback", "warpvalue", "warpl", "warpu", "disk", "vif", "cpus", "cpus_soft",
        "vfr_rules",
    };

    public static readonly IReadOnlySet<string> NotSupported = new HashSet<string>(StringComparer.Ordinal)
    {
        "acpi", "acpi_firmware", "acpi_laptop_slate", "acpi_s3", "acpi_s4", "altp2m", "altp2m_count", "altp2mhvm",
        "apic", "arm_sci", "bios", "bios_path_override", "boot", "bootloader", "bootloader_args",
        "bootloader_restrict", "bootloader_user", "cap", "channel", "cpuid",
        "device_model", "device_model_args", "device_model_override", "device_model_stubdomain_override",
        "device_model_stubdomain_seclabel", "device_model_user", "device_model_version", "device_tree",
        "display", "dm_restrict", "driver_domain", "dtdev", "e820_host", "extratime", "firmware", "firmware_override",
        "gfx_passthru", "gic_version", "hap", "hdtype", "hpet", "hvm_pirq", "init_seclabel", "iomem", "ioports",
        "irqs", "keymap", "latency", "llc_colors", "localtime", "max_event_channels", "max_grant_frames",
        "max_grant_version", "max_maptrack_frames", "maxvcpus", "mca_caps", "mmio_hole", "ms_vm_genid", "msr_relaxed",
        "nestedhvm", "nographic", "nomigrate", "nr_spis", "nx", "on_soft_reset", "on_watchdog", "oos", "opengl", "p9",
        "pae", "passthrough", "pci", "pci_msitranslate", "pci_permissive", "pci_power_mgmt", "pci_seize", "period",
        "pool", "pvcalls", "pvshim", "pvshim_cmdline", "pvshim_extra", "pvshim_path", "rdm", "rdm_mem_boundary",
        "rtc_timeoffset", "sdl", "seclabel", "serial", "shadow_memory", "slice", "smbios", "smbios_firmware",
        "soundhw", "spice", "spice_clipboard_sharing", "spice_image_compression", "spice_streaming_video",
        "spiceagent_mouse", "spicedisable_ticketing", "spicehost", "spicepasswd", "spiceport", "spicetls_port",
        "spiceusbredirection", "spicevdagent", "stdvga", "stubdomain_cmdline", "stubdomain_kernel",
        "stubdomain_memory", "stubdomain_ramdisk", "sve", "tee", "timer_mode", "trap_unmapped_accesses", "tsc_mode",
        "usb", "usbctrl", "usbdev", "usbdevice", "usbversion", "uuid", "vdispl", "vendor_device", "vfb", "vga",
        "videoram", "vif2", "viridian", "virtio", "vkb", "vkb_device", "vmtrace_buf_kb", "vnc", "vncdisplay",
        "vnclisten", "vncpasswd", "vncunused", "vncviewer", "vnuma", "vpmu", "vpt_align", "vsnd", "vtpm", "vuart",
        "xauthority", "xen_platform_pci", "xen_platform_pci_bar_uc", "xend_suspend_evtchn_compat",
        "xenstore_feature_mask", "xenstore_quota",
    };

    /// <summary>The warning for a key that is not understood, or null for one that is.</summary>
    public static string? Warning(string key)
    {
        if (Understood.Contains(key))
            return null;
        string quoted = ConfigText.SingleQuoted(key);
        if (NotSupported.Contains(key))
            return $"{quoted} is not supported yet and is ignored";
        return ClosestKnown(key) is { } known
            ? $"{quoted} is not an xl setting and is ignored (did you mean {ConfigText.SingleQuoted(known)}?)"
            : $"{quoted} is not an xl setting and is ignored";
    }

    /// <summary>The known key nearest to a misspelt one: at most two edits away (one for short keys), understood keys first.</summary>
    private static string? ClosestKnown(string key)
    {
        int limit = key.Length <= 4 ? 1 : 2;
        string? best = null;
        int bestDistance = limit + 1;
        foreach (string known in Understood.Concat(NotSupported))
        {
            int d = EditDistance(key, known);
            if (d < bestDistance)
            {
                (best, bestDistance) = (known, d);
            }
        }

        return best;
    }

    // Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours cost one each.
    private static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
            d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++)
            d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }

        return d[a.Length, b.Length];
    }
}
