namespace XenSharp.Backends.Xenstore;

/// <summary>
/// How a connection's bytes move: a guest's ring (<see cref="StoreRing"/>) or a host socket. Read and Write move as
/// much as they can without waiting and return the count, or a negative <c>XENSTORE_ERROR_*</c> value when the channel
/// is broken. Notify tells the other side something moved. Called with the store's lock held.
/// </summary>
internal interface IStoreTransport
{
    int Read(Span<byte> buffer);

    int Write(ReadOnlySpan<byte> bytes);

    void Notify();

    /// <summary>The connection has been given up: record why where the client can see it (the ring's error field).</summary>
    void Break(uint error);
}
