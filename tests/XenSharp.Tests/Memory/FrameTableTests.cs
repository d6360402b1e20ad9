using XenSharp.Hypervisor.Memory;
using Xunit;

namespace XenSharp.Tests.Memory;

public class FrameTableTests
{
    [Fact]
    public void TypeCanChangeOnlyWhenUnused()
    {
        var t = new FrameTable(16);
        var m = new Mfn(3);
        t.Assign(m, 1, 1);
        Assert.True(t.GetTypedReference(m, PageType.L1));
        Assert.True(t.GetTypedReference(m, PageType.L1));
        Assert.False(t.GetTypedReference(m, PageType.Writable));
        t.PutTypedReference(m);
        t.PutTypedReference(m);
        Assert.Equal(PageType.None, t[m].Type);
        Assert.True(t.GetTypedReference(m, PageType.Writable));
    }

    [Fact]
    public void UnderflowIsAnInternalError()
    {
        var t = new FrameTable(4);
        t.Assign(new Mfn(0), 1, 1);
        Assert.Throws<InvalidOperationException>(() => t.PutTypedReference(new Mfn(0)));
    }

    [Fact]
    public void AssigningAnOwnedFrameFails()
    {
        var t = new FrameTable(4);
        t.Assign(new Mfn(1), 2, 5);
        Assert.Throws<InvalidOperationException>(() => t.Assign(new Mfn(2), 1, 6));
        Assert.Equal(2UL, t.CountOwnedBy(5));
        t.Release(new Mfn(1), 2);
        Assert.Equal(4UL, t.CountOwnedBy(FrameOwner.Free));
    }

    [Fact]
    public void AGeneralReferenceIsTakenOnlyOnTheOwnersFrameAndNeverOverflows()
    {
        var t = new FrameTable(4);
        t.Assign(new Mfn(1), 1, 5);
        Assert.True(t.GetReference(new Mfn(1), 5));
        Assert.Equal(1u, t[new Mfn(1)].RefCount);
        Assert.False(t.GetReference(new Mfn(1), 6));       // another domain's frame
        Assert.False(t.GetReference(new Mfn(2), 5));       // a free frame
        Assert.False(t.GetReference(new Mfn(4), 5));       // outside the table
        t[new Mfn(1)].RefCount = uint.MaxValue;
        Assert.False(t.GetReference(new Mfn(1), 5));
        Assert.Equal(uint.MaxValue, t[new Mfn(1)].RefCount);
    }
}
