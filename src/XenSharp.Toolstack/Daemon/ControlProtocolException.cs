namespace XenSharp.Toolstack.Daemon;

/// <summary>A control connection broke the framing (a frame too large, or the peer gone mid-frame): the connection is closed.</summary>
public sealed class ControlProtocolException(string message) : Exception(message);
