using XenSharp.Hypervisor.Memory;
using Xunit;

namespace XenSharp.Tests.Memory;

public class ExtentAllocatorTests
{
    [Fact]
    public void AllocatesFirstFitAndCoalescesOnFree()
    {
        var a = new ExtentAllocator(100, 1000);
        Mfn x = a.Allocate(10)!.Value;
        Mfn y = a.Allocate(20)!.Value;
        Mfn z = a.Allocate(30)!.Value;
        Assert.Equal(100UL, x.Value);
        Assert.Equal(110UL, y.Value);
        Assert.Equal(130UL, z.Value);
        Assert.Equal(940UL, a.FreeFrames);

        a.Free(y, 20);
        a.Free(x, 10);
        a.Free(z, 30);
        Assert.Equal(1000UL, a.FreeFrames);
        Assert.Equal(1000UL, a.LargestFreeRun);
    }

    [Fact]
    public void HonoursAlignment()
    {
        var a = new ExtentAllocator(3, 5000);
        Mfn m = a.Allocate(512, 512)!.Value;
        Assert.Equal(0UL, m.Value % 512);
        Assert.Equal(5000UL - 512, a.FreeFrames);
    }

    [Fact]
    public void ReturnsNullWhenNoRunIsLargeEnough()
    {
        var a = new ExtentAllocator(0, 100);
        Assert.NotNull(a.Allocate(60));
        Assert.Null(a.Allocate(60));
    }

    [Fact]
    public void RefusesDoubleFree()
    {
        var a = new ExtentAllocator(0, 100);
        Mfn m = a.Allocate(10)!.Value;
        a.Free(m, 10);
        Assert.Throws<InvalidOperationException>(() => a.Free(m, 10));
    }
}
