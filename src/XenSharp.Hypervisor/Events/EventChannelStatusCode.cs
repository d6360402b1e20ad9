namespace XenSharp.Hypervisor.Events;

/// <summary>EVTCHNSTAT_* values returned by EVTCHNOP_status (public/event_channel.h).</summary>
internal enum EventChannelStatusCode : uint
{
    Closed = 0,
    Unbound = 1,
    Interdomain = 2,
    Pirq = 3,
    Virq = 4,
    Ipi = 5,
}
