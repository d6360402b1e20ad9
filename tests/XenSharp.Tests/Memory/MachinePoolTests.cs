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
    public void RejectsPoolsThatAreNotWholeLargePages() =>
        Assert.Throws<ArgumentException>(() => new MachinePool(new HeapMachineMemory(3 << 20)));
}
