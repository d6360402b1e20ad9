namespace XenSharp.Hypervisor.Events;

/// <summary>
/// The host side of an interdomain event channel: a backend in the host process (acting as domain 0) that the guest
/// notifies with EVTCHNOP_send. The core calls <see cref="Notify"/> on the sending vCPU's thread with no event-channel
/// lock held, so the sink may do its work synchronously and notify the guest back through its
/// <see cref="HostEventChannel"/>. It must not throw and should not block for long: the guest's vCPU waits.
/// </summary>
public interface IEventSink
{
    void Notify();
}
