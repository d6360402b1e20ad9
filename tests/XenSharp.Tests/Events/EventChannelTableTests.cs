using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Events;
using XenSharp.Tests.Builder;
using Xunit;

namespace XenSharp.Tests.Events;

/// <summary>The event-channel table on a domain in heap memory (no KVM): Xen's port states, errors and the 2-level bits.</summary>
public sealed class EventChannelTableTests : IDisposable
{
    private readonly XenHypervisor _hv = TestDomains.Hypervisor();
    private readonly Domain _d;
    private readonly EventChannelTable _t;

    public EventChannelTableTests()
    {
        _d = _hv.CreateDomain("ev", 2, 256, new CapturingConsole());
        _t = _d.Events;
    }

    public void Dispose() => _hv.Dispose();

    [Fact]
    public void PortZeroIsReservedAndAllocationTakesTheLowestFreePort()
    {
        Assert.Equal(1, _t.AllocUnbound(0));
        Assert.Equal(2, _t.AllocUnbound(0));
        Assert.Equal(3, _t.BindIpi(0));
        Assert.Equal(0, _t.Close(2));
        Assert.Equal(2, _t.BindVirq(Virq.Timer, 0));
        Assert.Equal(4, _t.AllocUnbound(EventChannelOp.DomidSelf));
        Assert.Equal(-XenErrno.EINVAL, _t.Close(0));
        Assert.Equal(0, _t.Status(0, out EventChannelStatus s));
        Assert.Equal(EventChannelStatusCode.Closed, s.Status);
    }

    [Fact]
    public void AllocationStopsAtMaxPortAndValidPortsGrowByBucket()
    {
        Assert.Equal(-XenErrno.EINVAL, _t.Status(64, out _));
        for (int i = 1; i <= 64; i++)
        {
            Assert.Equal(i, _t.AllocUnbound(0));
        }

        Assert.Equal(0, _t.Status(64, out EventChannelStatus s64));
        Assert.Equal(EventChannelStatusCode.Unbound, s64.Status);
        Assert.Equal(0, _t.Status(127, out EventChannelStatus s127));
        Assert.Equal(EventChannelStatusCode.Closed, s127.Status);
        Assert.Equal(-XenErrno.EINVAL, _t.Status(128, out _));

        _t.MaxPort = 66;
        Assert.Equal(65, _t.AllocUnbound(0));
        Assert.Equal(66, _t.BindIpi(0));
        Assert.Equal(-XenErrno.ENOSPC, _t.AllocUnbound(0));
        Assert.Equal(-XenErrno.ENOSPC, _t.BindIpi(1));
        Assert.Equal(0, _t.Close(10));
        Assert.Equal(10, _t.AllocUnbound(0));
    }

    [Fact]
    public void DefaultLimitIsLibxlsThousandAndTwentyThreePorts()
    {
        for (int i = 1; i <= EventChannelTable.DefaultMaxPort; i++)
        {
            Assert.Equal(i, _t.AllocUnbound(0));
        }

        Assert.Equal(-XenErrno.ENOSPC, _t.AllocUnbound(0));
        Assert.Equal(-XenErrno.EINVAL, _t.Status(1024, out _));
        _t.MaxPort = int.MaxValue; // clamped to the FIFO limit (2-level allocation still stops at 4095)
        Assert.Equal(EventChannelTable.MaxPorts - 1, _t.MaxPort);
    }

    [Theory]
    [InlineData(uint.MaxValue)]
    [InlineData(0x80000000u)]
    [InlineData(4096u)]
    [InlineData(4095u)]
    [InlineData(64u)]
    [InlineData(0xfffff000u)]
    public void HostilePortsAreEinvalEverywhere(uint port)
    {
        Assert.Equal(-XenErrno.EINVAL, _t.Send(port));
        Assert.Equal(-XenErrno.EINVAL, _t.Close(port));
        Assert.Equal(-XenErrno.EINVAL, _t.Unmask(port));
        Assert.Equal(-XenErrno.EINVAL, _t.Status(port, out _));
        Assert.Equal(-XenErrno.EINVAL, _t.BindVcpu(port, 0));
        Assert.Equal(-XenErrno.EINVAL, _t.BindInterdomain(EventChannelOp.DomidSelf, port));
        Assert.False(_t.IsPending(port));
        Assert.Equal(0UL, PendingWords());
    }

    [Fact]
    public void SendToUnboundIsSilentlyDroppedAndToClosedOrFreeOrVirqPortsIsEinval()
    {
        int unbound = _t.AllocUnbound(0);
        Assert.Equal(0, _t.Send((uint)unbound));
        Assert.False(_t.IsPending((uint)unbound));

        int closed = _t.AllocUnbound(0);
        Assert.Equal(0, _t.Close((uint)closed));
        Assert.Equal(-XenErrno.EINVAL, _t.Send((uint)closed));
        Assert.Equal(-XenErrno.EINVAL, _t.Close((uint)closed));
        Assert.Equal(-XenErrno.EINVAL, _t.Send(0));
        Assert.Equal(-XenErrno.EINVAL, _t.Send(40)); // valid (in the first bucket) but free

        int virq = _t.BindVirq(Virq.Debug, 1);
        Assert.Equal(-XenErrno.EINVAL, _t.Send((uint)virq));
        Assert.Equal(0UL, PendingWords());
    }

    [Fact]
    public void StatusReportsEveryState()
    {
        int unbound = _t.AllocUnbound(7);
        int a = _t.AllocUnbound(EventChannelOp.DomidSelf);
        int b = _t.BindInterdomain(EventChannelOp.DomidSelf, (uint)a);
        int virq = _t.BindVirq(Virq.Timer, 1);
        int ipi = _t.BindIpi(1);
        int hostPort = _t.AllocUnbound(EventChannelOp.BackendDomain);
        Assert.NotNull(_t.BindHost(hostPort, new CountingSink()));

        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Closed, 0), StatusOf(0));
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Closed, 0), StatusOf(50));
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Unbound, 0, 7), StatusOf(unbound));
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Interdomain, 0, _d.Id, (uint)b), StatusOf(a));
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Interdomain, 0, _d.Id, (uint)a), StatusOf(b));
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Virq, 1, Virq: Virq.Timer), StatusOf(virq));
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Ipi, 1), StatusOf(ipi));
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Interdomain, 0, 0, (uint)hostPort), StatusOf(hostPort));

        Assert.Equal(0, _t.Close((uint)a));
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Closed, 0), StatusOf(a));
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Unbound, 0, _d.Id), StatusOf(b));
    }

    [Fact]
    public void RaisingAnUnmaskedPortSetsPendingSelectorAndUpcallInXensOrder()
    {
        int ipi = _t.BindIpi(0);
        Assert.Equal(0, _t.Send((uint)ipi));
        Assert.True(_t.IsPending((uint)ipi));
        Assert.Equal(1UL << (ipi / 64), PendingSel(0));
        Assert.Equal(1, UpcallPending(0));
        Assert.Equal(1, _d.Vcpus[0].Wake.CurrentCount);
        Assert.Equal(0, UpcallPending(1));

        // The guest acknowledges the upcall but not the selector: a second port in the same word adds no new upcall.
        _d.Vcpus[0].VcpuInfo[SharedInfoLayout.UpcallPending] = 0;
        int ipi2 = _t.BindIpi(0);
        Assert.Equal(0, _t.Send((uint)ipi2));
        Assert.True(_t.IsPending((uint)ipi2));
        Assert.Equal(0, UpcallPending(0));

        // Once the guest cleared the selector, a new pending port raises the upcall again; an already-pending one does not.
        BinaryPrimitives.WriteUInt64LittleEndian(_d.Vcpus[0].VcpuInfo[SharedInfoLayout.PendingSel..], 0);
        Assert.Equal(0, _t.Send((uint)ipi));
        Assert.Equal(0UL, PendingSel(0));
        ClearPending(ipi2);
        Assert.Equal(0, _t.Send((uint)ipi2));
        Assert.Equal(1UL, PendingSel(0));
        Assert.Equal(1, UpcallPending(0));
    }

    [Fact]
    public void MaskedPortsOnlySetPendingAndUnmaskReRaises()
    {
        int ipi = _t.BindIpi(1);
        SetMask(ipi);
        Assert.Equal(0, _t.Send((uint)ipi));
        Assert.True(_t.IsPending((uint)ipi));
        Assert.Equal(0UL, PendingSel(1));
        Assert.Equal(0, UpcallPending(1));

        Assert.Equal(0, _t.Unmask((uint)ipi));
        Assert.False(IsMasked(ipi));
        Assert.Equal(1UL << (ipi / 64), PendingSel(1));
        Assert.Equal(1, UpcallPending(1));
        Assert.Equal(1, _d.Vcpus[1].Wake.CurrentCount);
        Assert.Equal(0, UpcallPending(0));

        // Unmasking a port that is not pending, or not masked, changes nothing else; any valid port may be unmasked.
        _d.Vcpus[1].VcpuInfo[SharedInfoLayout.UpcallPending] = 0;
        BinaryPrimitives.WriteUInt64LittleEndian(_d.Vcpus[1].VcpuInfo[SharedInfoLayout.PendingSel..], 0);
        Assert.Equal(0, _t.Unmask((uint)ipi));
        Assert.Equal(0, UpcallPending(1));
        SetMask(30);
        Assert.Equal(0, _t.Unmask(30));
        Assert.False(IsMasked(30));
        Assert.Equal(0, _t.Unmask(0));
    }

    [Fact]
    public void CloseClearsPendingAndResetsTheVcpu()
    {
        int ipi = _t.BindIpi(1);
        Assert.Equal(0, _t.Send((uint)ipi));
        Assert.Equal(0, _t.Close((uint)ipi));
        Assert.False(_t.IsPending((uint)ipi));
        int again = _t.AllocUnbound(0);
        Assert.Equal(ipi, again);
        Assert.Equal(0U, StatusOf(again).Vcpu);
    }

    [Fact]
    public void BindVirqFollowsXensRules()
    {
        Assert.Equal(-XenErrno.EINVAL, _t.BindVirq(Virq.Count, 0));
        Assert.Equal(-XenErrno.EINVAL, _t.BindVirq(uint.MaxValue, 0));
        Assert.Equal(-XenErrno.EINVAL, _t.BindVirq(Virq.Console, 1));
        Assert.Equal(-XenErrno.EBUSY, _t.BindVirq(Virq.Console, 0));
        Assert.Equal(-XenErrno.EBUSY, _t.BindVirq(Virq.Arch0, 0));
        Assert.Equal(-XenErrno.ENOENT, _t.BindVirq(Virq.Timer, 2));
        Assert.Equal(-XenErrno.ENOENT, _t.BindVirq(Virq.Timer, uint.MaxValue));
        Assert.Equal(-XenErrno.EINVAL, _t.BindVirq(Virq.Argo, 1));

        int t0 = _t.BindVirq(Virq.Timer, 0);
        int t1 = _t.BindVirq(Virq.Timer, 1);
        Assert.True(t0 > 0 && t1 > 0 && t0 != t1);
        Assert.Equal(-XenErrno.EEXIST, _t.BindVirq(Virq.Timer, 1));
        int argo = _t.BindVirq(Virq.Argo, 0);
        Assert.True(argo > 0);

        Assert.True(_t.SendVirq(_d.Vcpus[1], Virq.Timer));
        Assert.True(_t.IsPending((uint)t1));
        Assert.False(_t.IsPending((uint)t0));
        Assert.Equal(1, UpcallPending(1));
        Assert.False(_t.SendVirq(_d.Vcpus[0], Virq.Debug));

        Assert.Equal(0, _t.Close((uint)t1));
        Assert.False(_t.SendVirq(_d.Vcpus[1], Virq.Timer));
        Assert.Equal(t1, _t.BindVirq(Virq.Timer, 1));
    }

    [Fact]
    public void BindIpiAndBindVcpuCheckTheVcpu()
    {
        Assert.Equal(-XenErrno.ENOENT, _t.BindIpi(2));
        Assert.Equal(-XenErrno.ENOENT, _t.BindIpi(uint.MaxValue));
        int unbound = _t.AllocUnbound(0);
        Assert.Equal(0, _t.BindVcpu((uint)unbound, 1));
        Assert.Equal(1U, StatusOf(unbound).Vcpu);
        Assert.Equal(-XenErrno.ENOENT, _t.BindVcpu((uint)unbound, 2));
        int timer = _t.BindVirq(Virq.Timer, 0);
        Assert.Equal(-XenErrno.EINVAL, _t.BindVcpu((uint)timer, 1)); // per-vCPU VIRQs stay put
        int ipi = _t.BindIpi(0);
        Assert.Equal(-XenErrno.EINVAL, _t.BindVcpu((uint)ipi, 1));
        Assert.Equal(-XenErrno.EINVAL, _t.BindVcpu(0, 1));
    }

    [Fact]
    public void InterdomainChannelsConnectTwoDomainsAndCloseBackToUnbound()
    {
        Domain other = _hv.CreateDomain("peer", 1, 256, new CapturingConsole());
        EventChannelTable o = other.Events;
        int offered = _t.AllocUnbound(other.Id);
        Assert.Equal(-XenErrno.EINVAL, o.BindInterdomain(_d.Id, (uint)offered + 1));
        Assert.Equal(-XenErrno.ESRCH, o.BindInterdomain(999, (uint)offered));
        Assert.Equal(-XenErrno.EINVAL, o.BindInterdomain(0, 1));
        int bound = o.BindInterdomain(_d.Id, (uint)offered);
        Assert.True(bound > 0);
        Assert.True(o.IsPending((uint)bound)); // notifications to the unbound port may have been lost
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Interdomain, 0, other.Id, (uint)bound), StatusOf(offered));
        Assert.Equal(-XenErrno.EINVAL, _hv.CreateDomain("third", 1, 256, new CapturingConsole()).Events.BindInterdomain(_d.Id, (uint)offered));

        Assert.Equal(0, o.Send((uint)bound));
        Assert.True(_t.IsPending((uint)offered));
        Assert.Equal(1, UpcallPending(0));

        Assert.Equal(0, o.Close((uint)bound));
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Unbound, 0, other.Id), StatusOf(offered));
        Assert.Equal(0, _t.Send((uint)offered)); // unbound again: dropped
        Assert.Equal(-XenErrno.EINVAL, o.Send((uint)bound));
    }

    [Fact]
    public void HostBackendBindsAnUnboundPortForDomainZero()
    {
        var sink = new CountingSink();
        int other = _t.AllocUnbound(5);
        Assert.Null(_t.BindHost(other, sink));
        Assert.Null(_t.BindHost(0, sink));
        Assert.Null(_t.BindHost(-1, sink));
        Assert.Null(_t.BindHost(5000, sink));
        int port = _t.AllocUnbound(EventChannelOp.BackendDomain);
        HostEventChannel host = Assert.IsType<HostEventChannel>(_t.BindHost(port, sink));
        Assert.Null(_t.BindHost(port, sink));
        Assert.True(host.IsConnected);

        Assert.Equal(0, _t.Send((uint)port));
        Assert.Equal(1, sink.Count);
        Assert.False(_t.IsPending((uint)port));
        Assert.True(host.Send());
        Assert.True(_t.IsPending((uint)port));

        host.Close();
        Assert.False(host.IsConnected);
        Assert.False(host.Send());
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Unbound, 0, 0), StatusOf(port));
        Assert.Equal(0, _t.Send((uint)port));
        Assert.Equal(1, sink.Count);

        // The guest closing its end disconnects the host side too.
        HostEventChannel again = _t.BindHost(port, sink)!;
        Assert.Equal(0, _t.Close((uint)port));
        Assert.False(again.IsConnected);
        Assert.False(again.Send());
    }

    [Fact]
    public void ASinkMayCallBackIntoTheTableFromNotify()
    {
        int port = _t.AllocUnbound(0);
        var echo = new EchoSink();
        echo.Channel = _t.BindHost(port, echo);
        Assert.Equal(0, _t.Send((uint)port));
        Assert.True(_t.IsPending((uint)port));
    }

    [Fact]
    public void DestroyClosesEverythingAndStopsSharedInfoWrites()
    {
        Domain other = _hv.CreateDomain("peer", 1, 256, new CapturingConsole());
        int offered = other.Events.AllocUnbound(_d.Id);
        int bound = _t.BindInterdomain(other.Id, (uint)offered);
        int hostPort = _t.AllocUnbound(0);
        HostEventChannel host = _t.BindHost(hostPort, new CountingSink())!;
        int ipi = _t.BindIpi(0);
        ClearAllPending();

        _t.Destroy();
        Assert.False(host.Send());
        Assert.Equal(-XenErrno.EINVAL, _t.Send((uint)ipi));
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Unbound, 0, _d.Id), StatusOf(other.Events, offered));
        Assert.Equal(0, other.Events.Send((uint)offered));
        Assert.Equal(-XenErrno.EINVAL, _t.AllocUnbound(0));
        Assert.Equal(-XenErrno.EINVAL, other.Events.BindInterdomain(_d.Id, (uint)bound));
        Assert.Equal(0UL, PendingWords());
    }

    [Fact]
    public void ConcurrentSendersAndCloseDoNotCorruptTheTable()
    {
        int a = _t.BindIpi(0);
        int b = _t.BindIpi(1);
        int port = _t.AllocUnbound(0);
        HostEventChannel host = _t.BindHost(port, new CountingSink())!;
        Parallel.For(0, 2000, i =>
        {
            switch (i % 4)
            {
                case 0: _t.Send((uint)a); break;
                case 1: _t.Send((uint)b); break;
                case 2: host.Send(); break;
                default: ClearAllPending(); break;
            }
        });

        Assert.Equal(EventChannelStatusCode.Ipi, StatusOf(a).Status);
        Assert.Equal(EventChannelStatusCode.Interdomain, StatusOf(port).Status);
    }

    private EventChannelStatus StatusOf(int port) => StatusOf(_t, port);

    private static EventChannelStatus StatusOf(EventChannelTable t, int port)
    {
        Assert.Equal(0, t.Status((uint)port, out EventChannelStatus s));
        return s;
    }

    private ulong PendingWords()
    {
        ulong any = 0;
        for (int w = 0; w < 64; w++)
        {
            any |= BinaryPrimitives.ReadUInt64LittleEndian(_d.SharedInfoPage[(SharedInfoLayout.EvtchnPending + (w * 8))..]);
        }

        return any;
    }

    private void ClearAllPending() => _d.SharedInfoPage.Slice(SharedInfoLayout.EvtchnPending, 512).Clear();

    private void ClearPending(int port) => _d.SharedInfoPage[SharedInfoLayout.EvtchnPending + (port / 8)] &= (byte)~(1 << (port % 8));

    private void SetMask(int port) => _d.SharedInfoPage[SharedInfoLayout.EvtchnMask + (port / 8)] |= (byte)(1 << (port % 8));

    private bool IsMasked(int port) => (_d.SharedInfoPage[SharedInfoLayout.EvtchnMask + (port / 8)] & (1 << (port % 8))) != 0;

    private ulong PendingSel(int vcpu) => BinaryPrimitives.ReadUInt64LittleEndian(_d.Vcpus[vcpu].VcpuInfo[SharedInfoLayout.PendingSel..]);

    private int UpcallPending(int vcpu) => _d.Vcpus[vcpu].VcpuInfo[SharedInfoLayout.UpcallPending];

    private sealed class CountingSink : IEventSink
    {
        public int Count;

        public void Notify() => Interlocked.Increment(ref Count);
    }

    private sealed class EchoSink : IEventSink
    {
        public HostEventChannel? Channel { get; set; }

        public void Notify() => Channel?.Send();
    }
}
