using XenSharp.Hypervisor.Memory;
using Xunit;

namespace XenSharp.Tests.Memory;

public class MachinePoolTests
{
    [Fact]
    public void M2pTakesTheFirstLargePagesAndStartsInvalid()
    {
        var pool = new MachinePool(new HeapMachineMemory(64 << 20));
        Assert.Equal(0UL, pool.M2p.First.Value);
        Assert.Equal(512UL, pool.M2p.Count);
        Assert.Equal(FrameOwner.Xen, pool.Frames[new Mfn(0)].Owner);
        Assert.Equal(MachinePool.InvalidM2pEntry, pool.GetM2p(new Mfn(1000)));
        Assert.Equal(pool.TotalFrames - 512, pool.FreeFrames);
    }

    [Fact]
    public void FreeZeroesFramesAndInvalidatesTheirM2pEntries()
    {
        var pool = new MachinePool(new HeapMachineMemory(64 << 20));
        Extent e = pool.Allocate(4, 7)!.Value;
        pool.Frame(e.First).Fill(0xab);
        pool.SetM2p(e.First, 42);
        pool.Free(e);
        Assert.All(pool.Frame(e.First).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(MachinePool.InvalidM2pEntry, pool.GetM2p(e.First));
        Assert.Equal(0UL, pool.Frames.CountOwnedBy(7));
    }

    [Fact]
    public void AFrameAnotherDomainStillMapsIsOrphanedUntilItsLastForeignReference()
    {
        var pool = new MachinePool(new HeapMachineMemory(64 << 20));
        ulong free = pool.FreeFrames;
        Extent e = pool.Allocate(4, 7)!.Value;
        Mfn kept = e.First.Add(2);
        pool.Frame(kept).Fill(0xcd);
        pool.Frames[kept].RefCount = 3;
        pool.Frames[kept].ForeignRefs = 2;
        pool.Free(e);

        Assert.Equal(free - 1, pool.FreeFrames); // the other three went back
        Assert.Equal(1UL, pool.OrphanedFrames);
        Assert.Equal(FrameOwner.Orphaned, pool.Frames[kept].Owner);
        Assert.All(pool.Frame(kept).ToArray(), b => Assert.Equal(0xcd, b)); // the mapper still sees the contents
        Assert.All(pool.Frame(e.First).ToArray(), b => Assert.Equal(0, b));

        pool.DropForeignReference(kept);
        Assert.Equal(1UL, pool.OrphanedFrames);
        pool.DropForeignReference(kept);
        Assert.Equal(0UL, pool.OrphanedFrames);
        Assert.Equal(free, pool.FreeFrames);
        Assert.True(pool.Frames[kept].IsFree);
        Assert.All(pool.Frame(kept).ToArray(), b => Assert.Equal(0, b));
        Assert.Throws<InvalidOperationException>(() => pool.DropForeignReference(kept));
        Assert.NotNull(pool.Allocate(pool.FreeFrames, 8)); // and the allocator has it back in one run
    }

    [Fact]
    public void RejectsPoolsThatAreNotWholeLargePages() =>
        Assert.Throws<ArgumentException>(() => new MachinePool(new HeapMachineMemory(3 << 20)));
}
