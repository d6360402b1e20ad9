using XenSharp.Toolstack.Image;

namespace XenSharp.Toolstack.Builder;

/// <summary>What the builder needs from a domain config, with the kernel already read and checked.</summary>
public sealed record BuildRequest(string Name, KernelImage Kernel, int MemoryMiB, int Vcpus, string CommandLine, byte[]? Ramdisk = null);
