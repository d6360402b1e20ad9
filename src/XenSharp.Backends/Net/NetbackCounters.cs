namespace XenSharp.Backends.Net;

/// <summary>
/// One VIF's counters (all its queues). Tx is the guest's transmit ring, rx its receive ring. Updated with
/// Interlocked; read at any time.
/// </summary>
public sealed class NetbackCounters
{
    internal long TxPacketCount;
    internal long TxByteCount;
    internal long TxErrorCount;
    internal long RxPacketCount;
    internal long RxByteCount;
    internal long RxFullCount;
    internal long RxUnfitCount;
    internal long RxErrorCount;
    internal long FatalCount;

    /// <summary>Packets taken from the tx ring and handed to the VFR.</summary>
    public long TxPackets => Interlocked.Read(ref TxPacketCount);

    public long TxBytes => Interlocked.Read(ref TxByteCount);

    /// <summary>Tx packets answered NETIF_RSP_ERROR (bad size, too many slots, a grant that does not copy).</summary>
    public long TxErrors => Interlocked.Read(ref TxErrorCount);

    /// <summary>Packets written into the frontend's rx buffers.</summary>
    public long RxPackets => Interlocked.Read(ref RxPacketCount);

    public long RxBytes => Interlocked.Read(ref RxByteCount);

    /// <summary>Packets for the guest dropped because its queue was full (it posts no rx buffers, or too slowly).</summary>
    public long RxFull => Interlocked.Read(ref RxFullCount);

    /// <summary>Packets for the guest dropped because it cannot take them: over a page without feature-sg, GSO that is not
    /// TCP over IP (TCP GSO is segmented for a frontend without GSO), a blank checksum on what is not TCP/UDP.</summary>
    public long RxUnfit => Interlocked.Read(ref RxUnfitCount);

    /// <summary>Rx packets whose copy into a posted buffer failed (answered NETIF_RSP_ERROR).</summary>
    public long RxErrors => Interlocked.Read(ref RxErrorCount);

    /// <summary>Fatal protocol errors (the VIF was shut; at most one counts per VIF).</summary>
    public long Fatal => Interlocked.Read(ref FatalCount);
}
