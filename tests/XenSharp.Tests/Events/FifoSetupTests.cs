using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Events;
using XenSharp.Hypervisor.Memory;
using XenSharp.Tests.Builder;
using Xunit;

namespace XenSharp.Tests.Events;

/// <summary>EVTCHNOP_init_control, expand_array and reset on the event-channel table: Xen's argument checks and the pages the hypervisor holds.</summary>
public sealed class FifoSetupTests : IDisposable
{
    private readonly FifoGuestMemory _g = new();

    private EventChannelTable T => _g.Events;

    public void Dispose() => _g.Dispose();

    [Theory]
    [InlineData(2u, 0u, -XenErrno.ENOENT)]
    [InlineData(uint.MaxValue, 0u, -XenErrno.ENOENT)]
    [InlineData(0u, 4u, -XenErrno.EINVAL)]      // not 8-aligned
    [InlineData(0u, 4028u, -XenErrno.EINVAL)]   // not aligned either
    [InlineData(0u, 4032u, -XenErrno.EINVAL)]   // aligned, but the 72-byte block would cross the page
    [InlineData(0u, uint.MaxValue, -XenErrno.EINVAL)]
    [InlineData(5u, 4u, -XenErrno.ENOENT)]      // the vCPU is checked first, as in Xen
    public void InitControlChecksVcpuAndOffsetFirst(uint vcpu, uint offset, int expected)
    {
        Assert.Equal(expected, T.InitControl(_g.Gfn(0), offset, vcpu));
        AssertStillTwoLevel();
    }

    [Fact]
    public void InitControlAcceptsTheLastWholeBlockInThePage()
    {
        Assert.Equal(0, T.InitControl(_g.Gfn(0), 4096 - EventFifoLayout.ControlBlockSize, 0));
        Assert.True(T.UsesFifo);
    }

    [Fact]
    public void InitControlRefusesFramesThatAreNotTheDomainsWritableRam()
    {
        Domain other = _g.Hypervisor.CreateDomain("other", 1, 16, new CapturingConsole());
        Mfn table = _g.Frame(10);
        Assert.Equal(0, _g.Domain.Mmu.Pin(table, PageType.L1));

        ulong[] bad =
        [
            unchecked((ulong)-2L),              // XSA-188's gfn
            ulong.MaxValue,
            _g.Domain.Pool.TotalFrames,         // just past the machine
            0,                                  // the M2P: Xen's
            _g.Domain.StubPages.Frames.First.Value, // the hypervisor's stub pages for this very domain
            other.P2m[0].Value,                 // another domain's RAM
            table.Value,                        // this domain's, but in use as a page table
        ];
        foreach (ulong gfn in bad)
        {
            Assert.Equal(-XenErrno.EINVAL, T.InitControl(gfn, 0, 0));
            AssertStillTwoLevel();
        }

        Assert.Equal(1u, _g.FrameInfo(table).TypeCount); // only the pin
    }

    [Fact]
    public void ASecondControlBlockForTheSameVcpuIsEinvalButOtherVcpusMayShareThePage()
    {
        Assert.Equal(0, T.InitControl(_g.Gfn(0), 0, 0));
        Assert.Equal(-XenErrno.EINVAL, T.InitControl(_g.Gfn(2), 0, 0));
        Assert.Equal(-XenErrno.EINVAL, T.InitControl(_g.Gfn(0), 0, 0));
        Assert.Equal(-XenErrno.EINVAL, T.InitControl(unchecked((ulong)-2L), 0, 1)); // a bad frame for vCPU 1 leaves FIFO on
        Assert.True(T.UsesFifo);
        Assert.Equal(0, T.InitControl(_g.Gfn(0), FifoGuestMemory.Vcpu1Offset, 1));
        Assert.Equal(2u, _g.FrameInfo(_g.ControlFrame).TypeCount);
        Assert.Equal(PageType.Writable, _g.FrameInfo(_g.ControlFrame).Type);
        Assert.Equal(0u, _g.FrameInfo(_g.Frame(2)).TypeCount);
    }

    [Fact]
    public void ExpandArrayNeedsFifoAndStopsAtXensLimitOf128Pages()
    {
        Assert.Equal(-XenErrno.EOPNOTSUPP, T.ExpandArray(_g.Gfn(1)));
        Assert.Equal(0, T.InitControl(_g.Gfn(0), 0, 0));
        Assert.Equal(-XenErrno.EINVAL, T.ExpandArray(unchecked((ulong)-2L)));
        Assert.Equal(-XenErrno.EINVAL, T.ExpandArray(_g.Domain.StubPages.Frames.First.Value));
        for (int i = 1; i <= EventFifoLayout.MaxArrayPages; i++)
        {
            Assert.Equal(0, T.ExpandArray(_g.Gfn(i)));
        }

        Assert.Equal(-XenErrno.ENOSPC, T.ExpandArray(_g.Gfn(200)));
        Assert.Equal(0u, _g.FrameInfo(_g.Frame(200)).TypeCount);
    }

    [Fact]
    public void HeldPagesCannotBeGivenBackOrBecomePageTables()
    {
        _g.StartFifo();
        Mfn array = _g.Frame(1);
        Assert.Equal(-XenErrno.EBUSY, _g.Domain.Mmu.RemovePage(_g.ControlFrame));
        Assert.Equal(-XenErrno.EBUSY, _g.Domain.Mmu.RemovePage(array));
        Assert.NotEqual(0, _g.Domain.Mmu.Pin(array, PageType.L1));
        Assert.NotEqual(0, _g.Domain.Mmu.Pin(_g.ControlFrame, PageType.L4));
        Assert.Equal(_g.Domain.Id, _g.FrameInfo(array).Owner);
    }

    [Fact]
    public void ResetGoesBackToTwoLevelAndReleasesEveryPage()
    {
        _g.StartFifo(arrayPages: 2);
        int ipi = T.BindIpi(0);
        Assert.Equal(0, T.Send((uint)ipi));

        T.Reset();
        AssertStillTwoLevel();
        for (int pfn = 0; pfn <= 2; pfn++)
        {
            Assert.Equal(new FrameInfo { Owner = _g.Domain.Id }, _g.FrameInfo(_g.Frame(pfn)));
        }

        Assert.Equal(0, _g.Domain.Mmu.RemovePage(_g.Frame(2)));
        Assert.Equal(-XenErrno.ENOSYS, T.SetPriority(1, 3));

        // And FIFO can be set up again from scratch.
        Assert.Equal(0, T.InitControl(_g.Gfn(0), 0, 0));
        Assert.Equal(0, T.ExpandArray(_g.Gfn(1)));
        Assert.True(T.BindIpi(0) > 0);
    }

    [Fact]
    public void DestroyReleasesThePagesAndRefusesNewOnes()
    {
        _g.StartFifo();
        T.Destroy();
        Assert.Equal(0u, _g.FrameInfo(_g.ControlFrame).RefCount);
        Assert.Equal(0u, _g.FrameInfo(_g.Frame(1)).RefCount);
        Assert.Equal(-XenErrno.EINVAL, T.InitControl(_g.Gfn(0), 0, 0));
        Assert.Equal(-XenErrno.EOPNOTSUPP, T.ExpandArray(_g.Gfn(1)));
    }

    [Fact]
    public void SwitchingKeepsBoundPortsAndTheirPendingStateWithTheDefaultPriority()
    {
        int pending = T.BindIpi(0);
        int idle = T.BindIpi(1);
        Assert.Equal(0, T.Send((uint)pending));
        _g.ClearUpcall(0);

        _g.StartFifo(arrayPages: 0);
        Assert.True(T.UsesFifo);
        Assert.False(T.IsPending((uint)pending)); // no event word yet
        Assert.Equal(0, T.Status((uint)idle, out EventChannelStatus s));
        Assert.Equal(EventChannelStatusCode.Ipi, s.Status);

        Assert.Equal(0, T.ExpandArray(_g.Gfn(1)));
        Assert.True(T.IsPending((uint)pending));
        Assert.False(T.IsPending((uint)idle));
        Assert.Equal((uint)pending, _g.Head(0, EventFifoLayout.PriorityDefault));
        Assert.Equal(1u << EventFifoLayout.PriorityDefault, _g.Ready(0));
        Assert.Equal(1, _g.UpcallPending(0));
    }

    [Fact]
    public void AllocationFollowsTheAbisLimit()
    {
        T.MaxPort = int.MaxValue;
        Assert.Equal(EventChannelTable.MaxPorts - 1, T.MaxPort);
        for (int i = 1; i < TwoLevelEvents.MaxPorts; i++)
        {
            Assert.Equal(i, T.AllocUnbound(0));
        }

        Assert.Equal(-XenErrno.ENOSPC, T.AllocUnbound(0)); // 2-level: 4096 ports

        _g.StartFifo(arrayPages: 0);
        Assert.Equal(TwoLevelEvents.MaxPorts, T.AllocUnbound(0)); // FIFO: 2^17
        T.MaxPort = TwoLevelEvents.MaxPorts;
        Assert.Equal(-XenErrno.ENOSPC, T.AllocUnbound(0));
    }

    private void AssertStillTwoLevel()
    {
        Assert.False(T.UsesFifo);
        Assert.Equal(-XenErrno.EOPNOTSUPP, T.ExpandArray(_g.Gfn(1)));
        Assert.Equal(0u, _g.FrameInfo(_g.Frame(0)).RefCount);
    }
}
