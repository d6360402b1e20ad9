using XenSharp.Hypervisor.Machine;
using XenSharp.Kvm;
using Xunit;

namespace XenSharp.Tests.Machine;

/// <summary>
/// The machine's CPUID: the leaves KVM_GET_SUPPORTED_CPUID leaves empty because they only describe the processor (brand
/// string, cache and TLB) come from the processor itself; everything KVM answers stands.
/// </summary>
public sealed class MachineCpuidTests
{
    private static readonly CpuidEntry[] Kvm =
    [
        new(0, 0, 0, 0xd, 0x68747541, 0x444d4163, 0x69746e65),
        new(1, 0, 0, 0x00800f12, 0x800, (1u << 26) | (1u << 28), 0x078bfbff),
        new(0x80000000, 0, 0, 0x8000001f, 0x68747541, 0x444d4163, 0x69746e65),
        new(0x80000002, 0, 0, 0, 0, 0, 0),                       // KVM zeroes the brand string
        new(0x80000005, 0, 0, 0xff40ff40, 0xff40ff40, 0x40020140, 0x40020140),
    ];

    [Fact]
    public void BrandStringAndCacheLeavesComeFromTheProcessorWhereKvmLeftThemEmpty()
    {
        IReadOnlyList<CpuidEntry> all = CpuidPolicy.WithProcessorLeaves(Kvm, Processor);

        Assert.Equal(new CpuidEntry(0x80000002, 0, 0, 0x20444d41, 0x43595045, 0x72502030, 0x7365636f), Leaf(all, 0x80000002));
        Assert.Equal(0x80000003u, Leaf(all, 0x80000003).Eax);
        Assert.Equal(0x80000004u, Leaf(all, 0x80000004).Eax);
        Assert.Equal(0xff40ff40u, Leaf(all, 0x80000005).Eax);      // KVM's answer stands
        Assert.Equal(0x80000006u, Leaf(all, 0x80000006).Eax);      // absent from KVM's list: the processor's
        Assert.Equal(0x00800f12u, Leaf(all, 1).Eax);
        Assert.Equal(0u, Leaf(all, 1).Ecx & (1u << 31));           // feature leaves are never the processor's
        Assert.Equal(2u, Leaf(all, 2).Eax);                        // leaf 2 within leaf 0's range
        Assert.Equal(new CpuidEntry(4, 1, 1, 0x4122, 1, 0, 0), all.Single(e => e.Function == 4 && e.Index == 1));
        Assert.Equal(2, all.Count(e => e.Function == 4));          // until a subleaf says "no more caches"
        Assert.DoesNotContain(all, e => e.Function == 0x80000020);
    }

    [Fact]
    public void NothingPastTheRangeKvmReports()
    {
        CpuidEntry[] small = [new(0, 0, 0, 1, 0, 0, 0), new(0x80000000, 0, 0, 0x80000001, 0, 0, 0)];

        IReadOnlyList<CpuidEntry> all = CpuidPolicy.WithProcessorLeaves(small, Processor);

        Assert.Equal(2, all.Count);
    }

    [Fact]
    public void XsaveIsLeafOneEcxBit26()
    {
        Assert.True(CpuidPolicy.HasXsave(Kvm));
        Assert.False(CpuidPolicy.HasXsave([new CpuidEntry(1, 0, 0, 0, 0, 1u << 28, 0)]));
        Assert.False(CpuidPolicy.HasXsave([]));
    }

    /// <summary>A processor whose answers name the leaf; its brand string begins "AMD EPYC 0 Processor"; two cache levels in leaf 4.</summary>
    private static CpuidEntry Processor(uint leaf, uint subleaf) => (leaf, subleaf) switch
    {
        (0x80000002, _) => new(leaf, 0, 0, 0x20444d41, 0x43595045, 0x72502030, 0x7365636f),
        (4, 0) => new(4, 0, 0, 0x4121, 1, 0, 0),
        (4, 1) => new(4, 1, 0, 0x4122, 1, 0, 0),
        (4, _) => new(4, subleaf, 0, 0, 0, 0, 0),
        (1, _) => new(1, 0, 0, 0x11111111, 0, 0xffffffff, 0xffffffff),
        _ => new(leaf, subleaf, 0, leaf, 0, 0, 0),
    };

    private static CpuidEntry Leaf(IReadOnlyList<CpuidEntry> entries, uint leaf) => entries.Single(e => e.Function == leaf);
}
