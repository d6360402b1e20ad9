using System.Globalization;

namespace XenSharp.Toolstack.Config;

/// <summary>An unquoted number.</summary>
public sealed record ConfigNumber(long Value, int Line) : ConfigValue(Line)
{
    /// <summary>The number as written ("0x80", "0200"), so messages can quote the user rather than our reading of them.</summary>
    public string Text { get; init; } = Value.ToString(CultureInfo.InvariantCulture);
}
