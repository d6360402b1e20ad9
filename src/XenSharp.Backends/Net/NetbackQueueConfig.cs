namespace XenSharp.Backends.Net;

/// <summary>
/// One queue's rings and ports as the frontend wrote them (tx-ring-ref, rx-ring-ref, and event-channel, or
/// event-channel-tx and event-channel-rx when split; under queue-N with several queues). The ports must have been
/// allocated unbound for domain 0 by the frontend.
/// </summary>
public sealed record NetbackQueueConfig(uint TxRingRef, uint RxRingRef, int TxPort, int RxPort)
{
    /// <summary>A queue with one event channel for both rings.</summary>
    public NetbackQueueConfig(uint txRingRef, uint rxRingRef, int port)
        : this(txRingRef, rxRingRef, port, port)
    {
    }

    public bool SplitEvents => TxPort != RxPort;
}
