namespace XenSharp.Kvm;

/// <summary>One CPUID leaf as KVM reports or accepts it.</summary>
/// <param name="Flags">KVM_CPUID_FLAG_* bits, passed through unchanged (e.g. 1 = the leaf has sub-leaves selected by <paramref name="Index"/>).</param>
public readonly record struct CpuidEntry(uint Function, uint Index, uint Flags, uint Eax, uint Ebx, uint Ecx, uint Edx);
