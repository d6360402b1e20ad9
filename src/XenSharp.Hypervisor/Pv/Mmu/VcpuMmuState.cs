using XenSharp.Abi;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Pv.Mmu;

/// <summary>A vCPU's descriptor-table state: the guest GDT frames mapped into its window, and the LDT it declared.</summary>
internal sealed class VcpuMmuState
{
    /// <summary>Guest GDT pages 0–13 (null: the zero page is mapped). Each holds a SegmentDescriptors typed reference.</summary>
    public Mfn?[] GdtFrames { get; } = new Mfn?[XenSelectors.FirstReservedGdtEntry / 512];

    public uint GdtEntries { get; set; }

    /// <summary>MMUEXT_SET_LDT: recorded only (see docs/pv-mmu.md — the stub does not load a guest LDT).</summary>
    public ulong LdtBase { get; set; }

    public uint LdtEntries { get; set; }
}
