namespace XenSharp.Toolstack.Builder;

/// <summary>The domain cannot be built as configured; the message is one line for the user.</summary>
public sealed class DomainBuildException(string message) : Exception(message);
