namespace XenSharp.Backends.Xenstore;

/// <summary>
/// A message queued for a connection: header and payload as they go on the wire. A watch event carries its
/// "path\0token" key, which the connection indexes so an identical waiting event is found without a scan.
/// </summary>
internal sealed record OutMessage(byte[] Bytes, string? EventKey)
{
    public bool IsEvent => EventKey is not null;
}
