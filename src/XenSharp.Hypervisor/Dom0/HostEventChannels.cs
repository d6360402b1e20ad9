using XenSharp.Hypervisor.Events;

namespace XenSharp.Hypervisor.Dom0;

/// <summary>
/// Domain 0's event-channel device (xenevtchn): a backend binds a guest's port that was allocated unbound for
/// domain 0 and gets a <see cref="HostEventChannel"/> to notify the guest; the guest's EVTCHNOP_send on that port
/// calls the backend's <see cref="IEventSink.Notify"/>, which only posts work to the backend's own loop.
/// </summary>
public sealed class HostEventChannels
{
    private readonly DomainControl _control;

    internal HostEventChannels(DomainControl control) => _control = control;

    /// <summary>Binds <paramref name="port"/> of <paramref name="domid"/>; null if it is not unbound for domain 0.</summary>
    public HostEventChannel? BindInterdomain(ushort domid, int port, IEventSink sink) =>
        _control.Get(domid).Events.BindHost(port, sink);
}
