using XenSharp.Hypervisor.Scheduling;
using XenSharp.Toolstack.Image;

namespace XenSharp.Toolstack.Builder;

/// <summary>
/// What the builder needs from a domain config, with the kernel already read and checked. <paramref name="Scheduling"/>
/// is given to the scheduler when the domain is created (docs/architecture.md, "Scheduling"); null
/// means Xen's defaults.
/// </summary>
public sealed record BuildRequest(
    string Name,
    KernelImage Kernel,
    int MemoryMiB,
    int Vcpus,
    string CommandLine,
    byte[]? Ramdisk = null,
    BvtParameters? Scheduling = null);
