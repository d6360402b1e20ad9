namespace XenSharp.Hypervisor.Events;

/// <summary>
/// What EVTCHNOP_status reports for one port: the state, the vCPU it notifies, and the state's detail — the remote
/// domain (unbound, interdomain), the remote port (interdomain) or the VIRQ number (virq).
/// </summary>
internal readonly record struct EventChannelStatus(EventChannelStatusCode Status, uint Vcpu, ushort RemoteDomain = 0, uint RemotePort = 0, uint Virq = 0);
