using XenSharp.Kvm;

namespace XenSharp.Hypervisor.Machine;

/// <summary>The CPUID the KVM vCPU itself reports (what a plain ring-3 <c>cpuid</c> sees). The stub needs x2APIC for kicks.</summary>
internal static class CpuidPolicy
{
    public static IReadOnlyList<CpuidEntry> ForKvm(IReadOnlyList<CpuidEntry> supported)
    {
        var result = new List<CpuidEntry>(supported.Count);
        foreach (CpuidEntry e in supported)
        {
            result.Add(e.Function == 1 ? e with { Ecx = e.Ecx | (1u << 21) } : e);
        }

        return result;
    }
}
