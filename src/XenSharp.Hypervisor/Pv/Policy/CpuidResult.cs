namespace XenSharp.Hypervisor.Pv.Policy;

/// <summary>The four registers one CPUID leaf returns. All zeros is the answer for a leaf the guest may not see.</summary>
internal readonly record struct CpuidResult(uint Eax, uint Ebx, uint Ecx, uint Edx)
{
    public override string ToString() => $"{Eax:x8}:{Ebx:x8}:{Ecx:x8}:{Edx:x8}";
}

/// <summary>The CPU vendor, from leaf 0's signature; several CPUID and MSR rules depend on it (as in Xen's policy).</summary>
internal enum CpuVendor
{
    Unknown,
    Intel,
    Amd,
    Hygon,
    Centaur,
    Shanghai,
}
