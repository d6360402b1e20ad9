namespace XenSharp.Toolstack.Config;

/// <summary>A value as written in an xl config file; <see cref="Line"/> is where it starts, for error messages.</summary>
public abstract record ConfigValue(int Line);
