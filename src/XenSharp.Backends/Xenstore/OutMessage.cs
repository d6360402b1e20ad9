namespace XenSharp.Backends.Xenstore;

/// <summary>A message queued for a connection: header and payload as they go on the wire.</summary>
internal sealed record OutMessage(byte[] Bytes, bool IsEvent);
