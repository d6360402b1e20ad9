using XenSharp.Hypervisor.Memory;

namespace XenSharp.Toolstack.Builder;

/// <summary>
/// The rings a new PV domain shares with domain 0's backends, as start_info names them: the xenstore page and port
/// (store_mfn, store_evtchn) and the console page and port (console.domU). Both ports are unbound for domain 0.
/// </summary>
public readonly record struct DomainRings(Mfn StoreMfn, int StorePort, Mfn ConsoleMfn, int ConsolePort);
