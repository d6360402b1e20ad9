namespace XenSharp.Toolstack.Image;

/// <summary>
/// What the notes or the legacy string said, before defaults and checks (libelf's
/// elf_dom_parms). Null means "not given", which libelf encodes as UNSET_ADDR.
/// </summary>
internal sealed class XenParameters
{
    public ulong? Entry { get; set; }

    public ulong? HypercallPage { get; set; }

    public ulong? VirtBase { get; set; }

    public ulong? PaddrOffset { get; set; }

    public ulong? InitP2m { get; set; }

    public string Loader { get; set; } = "";

    public string GuestOs { get; set; } = "";

    public string XenVersion { get; set; } = "";

    public string? GuestVersion { get; set; }

    public string? PaeMode { get; set; }

    public uint FeaturesSupported { get; set; }

    public uint FeaturesRequired { get; set; }

    public bool ModStartPfn { get; set; }

    public bool SuspendCancel { get; set; }

    public bool BsdSymtab { get; set; }
}
