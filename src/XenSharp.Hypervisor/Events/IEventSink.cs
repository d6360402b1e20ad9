namespace XenSharp.Hypervisor.Events;

/// <summary>
/// The host side of an interdomain event channel: a backend in the host process (acting as domain 0) that the guest
/// notifies with EVTCHNOP_send. The core calls <see cref="Notify"/> on the sending vCPU's thread with no lock held.
/// A sink only posts to its backend's own loop and returns (Firecracker's model: device work never runs on a vCPU
/// thread); the loop does the work and notifies the guest back through its <see cref="HostEventChannel"/>. It must not
/// throw or block: the guest's vCPU waits, and a guest may call it as often as it likes.
/// </summary>
public interface IEventSink
{
    void Notify();
}
