using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Dom0;

/// <summary>
/// One domain as Domain 0 sees it (Xen's xen_domctl_getdomaininfo): its state and how it ended, its vCPUs, its memory
/// in pages — <see cref="CurrentPages"/> it holds now, <see cref="MaxPages"/> it may grow to, <see cref="TargetPages"/>
/// the balloon target the toolstack set — and the CPU time all its vCPUs spent running, in ns of system time.
/// </summary>
public sealed record DomainInfo(
    ushort Id,
    string Name,
    Guid Handle,
    DomainState State,
    ShutdownReason? ShutdownReason,
    string? CrashReason,
    int Vcpus,
    ulong CurrentPages,
    ulong MaxPages,
    ulong TargetPages,
    ulong CpuTimeNs);
