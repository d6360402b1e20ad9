namespace XenSharp.Toolstack.Devices;

/// <summary>A device that cannot be attached or detached; the message is one line, for the user.</summary>
public sealed class DeviceException(string message) : Exception(message);
