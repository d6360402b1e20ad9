namespace XenSharp.Backends.Net;

/// <summary>
/// One VFR port's counters, from the port's side: Sent = frames its endpoint gave the switch, Received = frames the
/// switch delivered to it. Each frame dropped is counted once, at the port that dropped it (the sender's for a
/// malformed frame or its own rule, the receiver's for the receiver's rule or a full endpoint). Updated with
/// Interlocked; read at any time.
/// </summary>
public sealed class VfrPortCounters
{
    internal long SentFrames;
    internal long SentBytes;
    internal long ReceivedFrames;
    internal long ReceivedBytes;
    internal long DroppedMalformed;
    internal long DroppedByRule;
    internal long DroppedFull;

    public long Sent => Interlocked.Read(ref SentFrames);

    public long SentByteCount => Interlocked.Read(ref SentBytes);

    public long Received => Interlocked.Read(ref ReceivedFrames);

    public long ReceivedByteCount => Interlocked.Read(ref ReceivedBytes);

    public long Malformed => Interlocked.Read(ref DroppedMalformed);

    public long Denied => Interlocked.Read(ref DroppedByRule);

    /// <summary>Frames for this port its endpoint refused (its queue was full).</summary>
    public long Full => Interlocked.Read(ref DroppedFull);

    public override string ToString() =>
        $"sent {Sent} ({SentByteCount} B), received {Received} ({ReceivedByteCount} B), malformed {Malformed}, denied {Denied}, full {Full}";
}
