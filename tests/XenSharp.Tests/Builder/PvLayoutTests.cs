using XenSharp.Toolstack.Builder;
using Xunit;

namespace XenSharp.Tests.Builder;

public class PvLayoutTests
{
    [Fact]
    public void XtfStyleKernelAtOneMegabyte()
    {
        // 128 MiB, kernel 0x100000-0x10a000, VIRT_BASE 0 (XTF pv64).
        PvLayout l = PvLayout.Compute(0, 0x100000, 0x10a000, 32768, 0, modStartPfn: false);
        Assert.Equal(0x100UL, l.KernelPfn);
        Assert.Equal(10UL, l.KernelPages);
        Assert.Equal(0x10aUL, l.P2mPfn);
        Assert.Equal(64UL, l.P2mPages);            // 32768 entries * 8 bytes
        Assert.Equal(l.P2mPfn + 64, l.StartInfoPfn);
        Assert.Equal(l.StartInfoPfn + 1, l.XenstorePfn);
        Assert.Equal(l.XenstorePfn + 1, l.ConsolePfn);
        Assert.Equal(l.ConsolePfn + 1, l.PageTablePfn);
        Assert.Equal((1, 1, 2), (l.L3Tables, l.L2Tables, l.L1Tables)); // 4 MiB mapping: one L3, one L2, two L1s
        Assert.Equal(l.PageTablePfn + 5, l.StackPfn);
        Assert.Equal(1024UL, l.MappedPages);
        Assert.True(l.MappingEnd - l.VirtOf(l.StackPfn + 1) >= 512 * 1024);
    }

    [Fact]
    public void LinuxStyleHighKernelCountsItsTablesUnderTheTopOfTheAddressSpace()
    {
        PvLayout l = PvLayout.Compute(0xffffffff80000000, 0xffffffff81000000, 0xffffffff82000000, 65536, 0, modStartPfn: true);
        Assert.Equal(0x1000UL, l.KernelPfn);
        Assert.Equal(1, l.L3Tables);
        Assert.Equal(1, l.L2Tables);
        Assert.True(l.L1Tables >= 9);
        Assert.Equal(0UL, l.MappingEnd % (4 << 20));
    }

    [Fact]
    public void TablesGrowUntilTheyMapThemselves()
    {
        // A 30 MiB kernel ends close to a 2 MiB boundary; the tables must still cover themselves and the stack.
        PvLayout l = PvLayout.Compute(0, 0x100000, 0x1f00000, 65536, 0, false);
        (int l3, int l2, int l1) = PvLayout.CountTables(0, l.MappingEnd);
        Assert.Equal((l3, l2, l1), (l.L3Tables, l.L2Tables, l.L1Tables));
        Assert.True(l.VirtOf(l.StackPfn + 1) <= l.MappingEnd);
    }

    [Fact]
    public void RamdiskWithModStartPfnGoesAfterTheMapping()
    {
        PvLayout l = PvLayout.Compute(0, 0x100000, 0x10a000, 32768, 10000, modStartPfn: true);
        Assert.True(l.RamdiskByPfn);
        Assert.Equal(l.MappedPages, l.RamdiskPfn);
        Assert.Equal(3UL, l.RamdiskPages);
        PvLayout inside = PvLayout.Compute(0, 0x100000, 0x10a000, 32768, 10000, modStartPfn: false);
        Assert.Equal(0x10aUL, inside.RamdiskPfn);
        Assert.Equal(0x10dUL, inside.P2mPfn);
    }

    [Fact]
    public void TooLittleMemoryIsAClearError()
    {
        var e = Assert.Throws<DomainBuildException>(() => PvLayout.Compute(0, 0x100000, 0x800000, 1024, 0, false));
        Assert.StartsWith("memory too small", e.Message);
    }
}
