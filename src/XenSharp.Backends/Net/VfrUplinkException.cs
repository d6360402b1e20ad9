namespace XenSharp.Backends.Net;

/// <summary>An uplink <see cref="VfrUplinks"/> cannot open; the message is one line.</summary>
public sealed class VfrUplinkException(string message) : Exception(message);
