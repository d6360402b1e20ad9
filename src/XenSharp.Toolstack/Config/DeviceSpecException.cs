namespace XenSharp.Toolstack.Config;

/// <summary>A disk or vif entry that cannot be used; the message is the problem alone, the reader adds file, line, key and entry.</summary>
internal sealed class DeviceSpecException(string message) : Exception(message);
