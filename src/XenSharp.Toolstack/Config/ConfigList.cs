namespace XenSharp.Toolstack.Config;

/// <summary>A bracketed list; items may themselves be lists (xl's vnuma setting nests them).</summary>
public sealed record ConfigList(IReadOnlyList<ConfigValue> Items, int Line) : ConfigValue(Line)
{
    // The generated equality would compare the list by reference, which makes two parses of one file unequal.
    public bool Equals(ConfigList? other) =>
        other is not null && Line == other.Line && Items.SequenceEqual(other.Items);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Line);
        foreach (var item in Items)
            hash.Add(item);
        return hash.ToHashCode();
    }
}
