namespace XenSharp.Cli;

/// <summary>A mistake in how xensharp was invoked; reported as one line.</summary>
public sealed class UsageException(string message) : Exception(message);
