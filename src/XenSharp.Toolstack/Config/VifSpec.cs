namespace XenSharp.Toolstack.Config;

/// <summary>
/// One entry of `vif=[...]` as xl reads it (xl-network-configuration(5)): comma-separated `key=value` settings. Null
/// means not given (libxl's default applies: a random 00:16:3e MAC, the default bridge, and so on).
/// </summary>
public sealed record VifSpec
{
    /// <summary>The entry as written in the file, for messages.</summary>
    public required string Entry { get; init; }

    /// <summary>The device id: `devid`, or the entry's index in the list as libxl numbers them.</summary>
    public required int DeviceId { get; init; }

    /// <summary>`mac`, six octets.</summary>
    public byte[]? Mac { get; init; }

    public string? Bridge { get; init; }

    /// <summary>`ip`: the address(es) as written, space separated.</summary>
    public string? Ip { get; init; }

    public VifRate? Rate { get; init; }

    public string? Model { get; init; }

    /// <summary>`vifname`: the backend interface's name.</summary>
    public string? VifName { get; init; }

    /// <summary>`type`: vif (the default) or ioemu; a PV domain gets a vif either way, as libxl decides.</summary>
    public string Type { get; init; } = "vif";

    /// <summary>`gatewaydev` (or its deprecated spelling `netdev`).</summary>
    public string? GatewayDev { get; init; }

    public int? Mtu { get; init; }

    /// <summary>The line of the entry in the config file.</summary>
    public int Line { get; init; }
}
