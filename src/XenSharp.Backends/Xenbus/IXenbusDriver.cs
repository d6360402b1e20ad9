namespace XenSharp.Backends.Xenbus;

/// <summary>
/// The device-specific half of a backend that <see cref="XenbusBackend"/> drives through the xenbus states (what a
/// Linux backend driver gives xenbus: probe, connect on the frontend's Initialised/Connected, disconnect). Called on the
/// backend's own loop only.
/// </summary>
public interface IXenbusDriver
{
    /// <summary>Writes what the frontend reads before it sets itself up (features, limits, size), in transaction <paramref name="tx"/>.</summary>
    void Probe(XenbusBackend device, uint tx);

    /// <summary>Reads the frontend's nodes (rings, event channel) and connects; null on success, else why not (the device goes to Closing).</summary>
    string? Connect(XenbusBackend device);

    /// <summary>Drops the connection (rings unmapped, channel closed); harmless when not connected.</summary>
    void Disconnect();
}
