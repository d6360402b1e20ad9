using System.Runtime.Intrinsics.X86;
using XenSharp.Kvm;

namespace XenSharp.Hypervisor.Machine;

/// <summary>
/// The machine's CPUID: what the PV policy starts from (<see cref="Supported"/>) and what the KVM vCPU itself reports
/// (what a plain ring-3 <c>cpuid</c> sees, <see cref="ForKvm"/>). The stub needs x2APIC for kicks.
/// <para>
/// KVM_GET_SUPPORTED_CPUID lists only what KVM virtualises: it zeroes (or omits) the leaves that merely describe the
/// processor — the brand string 0x80000002–4, and on some kernels the AMD L1/L2 cache and TLB leaves 0x80000005/6 and
/// Intel's leaves 2 and 4 — which a VMM is expected to fill itself (QEMU does). Xen's PV policy takes them from the
/// processor, so <see cref="Supported"/> fills exactly those leaves, when KVM left them empty, from the processor's
/// own CPUID instruction. They carry no feature bits.
/// </para>
/// </summary>
internal static class CpuidPolicy
{
    private const uint Leaf1EcxXsave = 1u << 26;
    private const uint SignificantIndex = 1; // KVM_CPUID_FLAG_SIGNIFCANT_INDEX
    private const uint CacheSubleaves = 8;

    /// <summary>KVM's supported CPUID with the descriptive leaves filled from this processor.</summary>
    public static IReadOnlyList<CpuidEntry> Supported(KvmSystem kvm) => WithProcessorLeaves(kvm.GetSupportedCpuid(), ProcessorCpuid);

    public static IReadOnlyList<CpuidEntry> ForKvm(IReadOnlyList<CpuidEntry> supported)
    {
        var result = new List<CpuidEntry>(supported.Count);
        foreach (CpuidEntry e in supported)
        {
            result.Add(e.Function == 1 ? e with { Ecx = e.Ecx | (1u << 21) } : e);
        }

        return result;
    }

    /// <summary>Whether the machine offers XSAVE (leaf 1 ECX bit 26): then the vCPU runs with CR4.OSXSAVE.</summary>
    public static bool HasXsave(IReadOnlyList<CpuidEntry> entries)
    {
        foreach (CpuidEntry e in entries)
        {
            if (e.Function == 1)
            {
                return (e.Ecx & Leaf1EcxXsave) != 0;
            }
        }

        return false;
    }

    /// <summary>
    /// <paramref name="kvm"/> with the brand string, 0x80000005/6 and leaves 2 and 4 taken from
    /// <paramref name="processor"/> where KVM's entry is missing or all zero, within the ranges KVM reports
    /// (leaf 0's and 0x80000000's EAX).
    /// </summary>
    internal static IReadOnlyList<CpuidEntry> WithProcessorLeaves(IReadOnlyList<CpuidEntry> kvm, Func<uint, uint, CpuidEntry> processor)
    {
        var result = new List<CpuidEntry>(kvm);
        uint basicMax = MaxOf(kvm, 0);
        uint extendedMax = MaxOf(kvm, 0x80000000);

        foreach (uint leaf in (ReadOnlySpan<uint>)[0x80000002, 0x80000003, 0x80000004, 0x80000005, 0x80000006])
        {
            if (leaf <= extendedMax && (extendedMax >> 16) == 0x8000)
            {
                Fill(result, processor(leaf, 0), indexed: false);
            }
        }

        if (basicMax >= 2)
        {
            Fill(result, processor(2, 0), indexed: false);
        }

        if (basicMax >= 4 && IsEmpty(result, 4))
        {
            for (uint i = 0; i < CacheSubleaves; i++)
            {
                CpuidEntry c = processor(4, i);
                if ((c.Eax & 0x1f) == 0)
                {
                    break; // no more cache levels
                }

                Fill(result, c, indexed: true);
            }
        }

        return result;
    }

    private static void Fill(List<CpuidEntry> entries, CpuidEntry fromProcessor, bool indexed)
    {
        int at = entries.FindIndex(e => e.Function == fromProcessor.Function && (!indexed || e.Index == fromProcessor.Index));
        if (at >= 0 && !IsZero(entries[at]))
        {
            return; // KVM's own answer stands
        }

        CpuidEntry e = fromProcessor with { Flags = indexed ? SignificantIndex : 0 };
        if (at >= 0)
        {
            entries[at] = e;
        }
        else
        {
            entries.Add(e);
        }
    }

    private static bool IsEmpty(List<CpuidEntry> entries, uint leaf) => entries.TrueForAll(e => e.Function != leaf || IsZero(e));

    private static bool IsZero(CpuidEntry e) => (e.Eax | e.Ebx | e.Ecx | e.Edx) == 0;

    private static uint MaxOf(IReadOnlyList<CpuidEntry> entries, uint leaf)
    {
        foreach (CpuidEntry e in entries)
        {
            if (e.Function == leaf)
            {
                return e.Eax;
            }
        }

        return 0;
    }

    private static CpuidEntry ProcessorCpuid(uint leaf, uint subleaf)
    {
        if (!X86Base.IsSupported)
        {
            return new CpuidEntry(leaf, subleaf, 0, 0, 0, 0, 0);
        }

        (int a, int b, int c, int d) = X86Base.CpuId(unchecked((int)leaf), unchecked((int)subleaf));
        return new CpuidEntry(leaf, subleaf, 0, unchecked((uint)a), unchecked((uint)b), unchecked((uint)c), unchecked((uint)d));
    }
}
