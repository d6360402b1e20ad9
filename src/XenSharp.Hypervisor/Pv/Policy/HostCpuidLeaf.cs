namespace XenSharp.Hypervisor.Pv.Policy;

/// <summary>
/// One CPUID leaf the machine offers (KVM_GET_SUPPORTED_CPUID's entry, machine-neutral): <paramref name="Flags"/> bit 0
/// says the leaf has subleaves (<paramref name="Index"/> then matters).
/// </summary>
internal readonly record struct HostCpuidLeaf(uint Function, uint Index, uint Flags, uint Eax, uint Ebx, uint Ecx, uint Edx);
