namespace XenSharp.Abi;

/// <summary>
/// The FIFO event-channel ABI (xen/include/public/event_channel.h): one 32-bit event word per port in guest pages
/// added with EVTCHNOP_expand_array, and one control block per vCPU registered with EVTCHNOP_init_control.
/// </summary>
public static class EventFifoLayout
{
    /// <summary>Priorities: 0 is the highest, 15 the lowest; a newly bound port gets 7.</summary>
    public const int PriorityMax = 0;
    public const int PriorityDefault = 7;
    public const int PriorityMin = 15;
    public const int Queues = PriorityMin + 1;

    /// <summary>Event-word bits.</summary>
    public const int PendingBit = 31;
    public const int MaskedBit = 30;
    public const int LinkedBit = 29;
    public const int BusyBit = 28;

    /// <summary>The low bits of an event word name the next port on the queue; EVTCHNOP_init_control returns this width.</summary>
    public const int LinkBits = 17;
    public const uint LinkMask = (1u << LinkBits) - 1;

    /// <summary>The ABI's port limit: every port must fit in a link field.</summary>
    public const int NrChannels = 1 << LinkBits;

    public const int WordsPerPage = 4096 / sizeof(uint);

    /// <summary>Event-array pages needed for <see cref="NrChannels"/> ports: EVTCHNOP_expand_array's limit.</summary>
    public const int MaxArrayPages = NrChannels / WordsPerPage;

    /// <summary>evtchn_fifo_control_block: ready u32 @0 (bit n: queue n is non-empty), _rsvd u32 @4, head[16] u32 @8.</summary>
    public const int ControlReady = 0;
    public const int ControlHead = 8;
    public const int ControlBlockSize = ControlHead + (Queues * sizeof(uint));
}
