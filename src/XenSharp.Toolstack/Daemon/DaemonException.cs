namespace XenSharp.Toolstack.Daemon;

/// <summary>The daemon cannot start or a request cannot be done; the message is one line for the user.</summary>
public sealed class DaemonException(string message) : Exception(message);
