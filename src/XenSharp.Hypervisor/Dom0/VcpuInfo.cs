namespace XenSharp.Hypervisor.Dom0;

/// <summary>
/// One vCPU as Domain 0 sees it (XEN_DOMCTL_getvcpuinfo and getvcpuaffinity, for xl vcpu-list): whether it is up, its
/// runstate (RunstateLayout.Running/Runnable/Blocked/Offline), the physical-CPU slot it holds (-1: none), the ns it has
/// run, and its hard and soft affinities as sorted slot numbers (null: every slot).
/// </summary>
public sealed record VcpuInfo(int Number, bool Online, int Runstate, int Cpu, ulong CpuTimeNs,
    IReadOnlyList<int>? HardAffinity = null, IReadOnlyList<int>? SoftAffinity = null);
