using XenSharp.Hypervisor.Scheduling;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Image;

namespace XenSharp.Toolstack.Builder;

/// <summary>
/// What the builder needs from a domain config, with the kernel already read and checked. <paramref name="Scheduling"/>
/// is given to the scheduler when the domain is created (docs/architecture.md, "Scheduling"); null
/// means Xen's defaults. <paramref name="HardAffinity"/> and <paramref name="SoftAffinity"/> (a config's cpus= and
/// cpus_soft=) are set on each vCPU before it first runs; null leaves every physical-CPU slot.
/// </summary>
public sealed record BuildRequest(
    string Name,
    KernelImage Kernel,
    int MemoryMiB,
    int Vcpus,
    string CommandLine,
    byte[]? Ramdisk = null,
    BvtParameters? Scheduling = null,
    VcpuAffinity? HardAffinity = null,
    VcpuAffinity? SoftAffinity = null);
