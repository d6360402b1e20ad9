namespace XenSharp.Cli.Reference;

/// <summary>What a shell offers for an argument or an option's value.</summary>
public enum ValueKind
{
    /// <summary>Nothing (a number, a name to be made up).</summary>
    None,

    /// <summary>The names of the daemon's domains, from `xensharp list`.</summary>
    Domain,

    /// <summary>File names.</summary>
    File,

    /// <summary>The host's groups.</summary>
    Group,

    /// <summary>One of <see cref="ValueCompletion.Choices"/>.</summary>
    Choice,
}

/// <summary>What a shell offers for one value: its kind, and the words for <see cref="ValueKind.Choice"/>.</summary>
public sealed record ValueCompletion(ValueKind Kind, IReadOnlyList<string> Choices)
{
    public static ValueCompletion Of(ValueKind kind) => new(kind, []);
}
