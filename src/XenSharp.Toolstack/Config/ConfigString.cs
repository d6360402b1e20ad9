namespace XenSharp.Toolstack.Config;

/// <summary>A quoted string, escapes already decoded.</summary>
public sealed record ConfigString(string Value, int Line) : ConfigValue(Line);
