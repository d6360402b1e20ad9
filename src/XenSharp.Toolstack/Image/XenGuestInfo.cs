namespace XenSharp.Toolstack.Image;

/// <summary>
/// What a PV kernel tells the domain builder about itself, from its Xen ELF notes or its legacy
/// <c>__xen_guest</c> string, with libelf's defaults applied and its checks passed.
/// </summary>
public sealed record XenGuestInfo
{
    /// <summary>Virtual entry point (ENTRY / VIRT_ENTRY, else the ELF header's e_entry).</summary>
    public ulong Entry { get; init; }

    /// <summary>VIRT_BASE, 0 when absent.</summary>
    public ulong VirtBase { get; init; }

    /// <summary>PADDR_OFFSET; when absent 0 with notes, VIRT_BASE with a legacy string.</summary>
    public ulong PaddrOffset { get; init; }

    /// <summary>Virtual address of the page to fill with hypercall stubs; null when the kernel wants none.</summary>
    public ulong? HypercallPage { get; init; }

    /// <summary>Virtual address the kernel wants the initial P2M list mapped at; null for the default place.</summary>
    public ulong? InitP2m { get; init; }

    public string GuestOs { get; init; } = "";

    public string Loader { get; init; } = "";

    public string XenVersion { get; init; } = "";

    public string? GuestVersion { get; init; }

    /// <summary>The PAE_MODE note or legacy PAE value as written; only meaningful to 32-bit guests.</summary>
    public string? PaeMode { get; init; }

    /// <summary>XENFEAT_* bitmap: every name in FEATURES (required or not) ORed with SUPPORTED_FEATURES.</summary>
    public uint FeaturesSupported { get; init; }

    /// <summary>XENFEAT_* bitmap of the FEATURES names marked with a leading '!'.</summary>
    public uint FeaturesRequired { get; init; }

    /// <summary>The kernel accepts an initrd that is not mapped by the initial page tables.</summary>
    public bool ModStartPfn { get; init; }

    public bool SuspendCancel { get; init; }

    /// <summary>
    /// The kernel asks for its symbol table to be loaded after the image. Reported only: the
    /// extra space is not added to <see cref="VirtKernelEnd"/>.
    /// </summary>
    public bool BsdSymtab { get; init; }

    /// <summary>Lowest load address of the loadable segments.</summary>
    public ulong VirtKernelStart { get; init; }

    /// <summary>Highest load address (exclusive) of the loadable segments.</summary>
    public ulong VirtKernelEnd { get; init; }

    /// <summary>True when the information came from the <c>__xen_guest</c> section rather than ELF notes.</summary>
    public bool FromLegacySection { get; init; }
}
