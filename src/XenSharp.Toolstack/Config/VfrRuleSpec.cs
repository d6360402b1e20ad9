using XenSharp.Backends.Net;

namespace XenSharp.Toolstack.Config;

/// <summary>
/// One entry of `vfr_rules=[...]`, XenSharp's own key (xl has none; it ignores the key): a rule of the VFR for the VIF
/// whose devid is <see cref="DeviceId"/>. A VIF's rules are its entries in file order; the first that matches decides.
/// </summary>
public sealed record VfrRuleSpec
{
    /// <summary>The entry as written in the file, for messages.</summary>
    public required string Entry { get; init; }

    /// <summary>`vif`: the devid of the VIF the rule is for (0 unless given).</summary>
    public int DeviceId { get; init; }

    public required VfrRule Rule { get; init; }

    /// <summary>The line of the entry in the config file.</summary>
    public int Line { get; init; }
}
