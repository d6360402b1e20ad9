namespace XenSharp.Backends.Net;

/// <summary>A VIF could not connect: a ring grant that does not map, a port not unbound for domain 0, a bad config.
/// The message names what; the xenbus layer writes it as the device's error and closes it.</summary>
public sealed class NetbackConnectException(string message) : Exception(message);
