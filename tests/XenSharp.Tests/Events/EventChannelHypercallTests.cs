using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Events;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Stub;
using XenSharp.Tests.Builder;
using Xunit;

namespace XenSharp.Tests.Events;

/// <summary>event_channel_op (32) and its compat form (16) with their structs in guest memory, on a built domain without KVM.</summary>
public sealed class EventChannelHypercallTests : IDisposable
{
    private const ulong Scratch = 0x200000;
    private const ulong Unmapped = 0x0000800000000000;
    private readonly XenHypervisor _hv = TestDomains.Hypervisor();
    private readonly Domain _d;
    private readonly Vcpu _v;

    public EventChannelHypercallTests()
    {
        _d = TestDomains.Build(_hv);
        _v = _d.Vcpus[0];
    }

    public void Dispose() => _hv.Dispose();

    [Fact]
    public void TheBuilderAllocatesTheStoreAndConsolePortsUnboundForDomainZeroAndWritesThemToStartInfo()
    {
        ulong startInfo = _v.FrameGet(StubFrame.Rsi);
        var field = new byte[4];
        Assert.True(_v.CopyFromGuest(startInfo + StartInfoLayout.StoreEvtchn, field));
        Assert.Equal(1U, BinaryPrimitives.ReadUInt32LittleEndian(field)); // libxl allocates the store port first
        Assert.True(_v.CopyFromGuest(startInfo + StartInfoLayout.ConsoleEvtchn, field));
        Assert.Equal(2U, BinaryPrimitives.ReadUInt32LittleEndian(field));

        foreach (uint port in new uint[] { 1, 2 })
        {
            byte[] st = Status(EventChannelOp.DomidSelf, port);
            Assert.Equal((uint)EventChannelStatusCode.Unbound, U32(st, 8));
            Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(st.AsSpan(16)));
        }
    }

    [Fact]
    public void XtfsDomidProbeAllocatesQueriesAndCloses()
    {
        // evtchn_get_domid: alloc_unbound(SELF, SELF), status, close.
        var alloc = new byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(alloc, EventChannelOp.DomidSelf);
        BinaryPrimitives.WriteUInt16LittleEndian(alloc.AsSpan(2), EventChannelOp.DomidSelf);
        Put(alloc);
        Assert.Equal(0, Op(EventChannelOp.AllocUnbound));
        uint port = U32(Get(8), 4);
        Assert.Equal(3U, port); // after the store and console ports

        byte[] st = Status(EventChannelOp.DomidSelf, port);
        Assert.Equal((uint)EventChannelStatusCode.Unbound, U32(st, 8));
        Assert.Equal(_d.Id, BinaryPrimitives.ReadUInt16LittleEndian(st.AsSpan(16)));

        Put(BitConverter.GetBytes(port));
        Assert.Equal(0, Op(EventChannelOp.Close));
        Assert.Equal((uint)EventChannelStatusCode.Closed, U32(Status(_d.Id, port), 8));
    }

    [Fact]
    public void StatusWritesTheWholeStructAndLeavesUnusedUnionBytes()
    {
        var s = new byte[24];
        s.AsSpan(16).Fill(0xcc);
        BinaryPrimitives.WriteUInt16LittleEndian(s, EventChannelOp.DomidSelf);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(4), 1);
        Put(s);
        Assert.Equal(0, Op(EventChannelOp.Status));
        byte[] r = Get(24);
        Assert.Equal((uint)EventChannelStatusCode.Unbound, U32(r, 8));
        Assert.Equal(0U, U32(r, 12));
        Assert.Equal(new byte[] { 0, 0, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc }, r[16..]);

        int ipi = _d.Events.BindIpi(0);
        byte[] i = Status(EventChannelOp.DomidSelf, (uint)ipi);
        Assert.Equal((uint)EventChannelStatusCode.Ipi, U32(i, 8));
    }

    [Fact]
    public void DomFieldsNameOnlyThisDomain()
    {
        Domain other = _hv.CreateDomain("other", 1, 256, new CapturingConsole());
        var s = new byte[24];
        BinaryPrimitives.WriteUInt16LittleEndian(s, other.Id);
        Put(s);
        Assert.Equal(-XenErrno.EPERM, Op(EventChannelOp.Status));
        BinaryPrimitives.WriteUInt16LittleEndian(s, 0);
        Put(s);
        Assert.Equal(-XenErrno.EPERM, Op(EventChannelOp.Status));
        BinaryPrimitives.WriteUInt16LittleEndian(s, 4000);
        Put(s);
        Assert.Equal(-XenErrno.ESRCH, Op(EventChannelOp.Status));

        var alloc = new byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(alloc, other.Id);
        Put(alloc);
        Assert.Equal(-XenErrno.EPERM, Op(EventChannelOp.AllocUnbound));
        Put([0x34, 0x12]);
        Assert.Equal(-XenErrno.ESRCH, Op(EventChannelOp.Reset));
    }

    [Fact]
    public void BindsReturnTheirPortsInTheOutField()
    {
        var virq = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(virq, Virq.Timer);
        Put(virq);
        Assert.Equal(0, Op(EventChannelOp.BindVirq));
        Assert.Equal(3U, U32(Get(12), 8)); // after the builder's store (1) and console (2) ports

        Put(new byte[8]);
        Assert.Equal(0, Op(EventChannelOp.BindIpi));
        uint ipi = U32(Get(8), 4);
        Assert.Equal(4U, ipi);

        // A loopback interdomain channel to an unbound port offered to ourselves.
        int offered = _d.Events.AllocUnbound(EventChannelOp.DomidSelf);
        var bind = new byte[12];
        BinaryPrimitives.WriteUInt16LittleEndian(bind, EventChannelOp.DomidSelf);
        BinaryPrimitives.WriteUInt32LittleEndian(bind.AsSpan(4), (uint)offered);
        Put(bind);
        Assert.Equal(0, Op(EventChannelOp.BindInterdomain));
        uint local = U32(Get(12), 8);
        byte[] st = Status(EventChannelOp.DomidSelf, (uint)offered);
        Assert.Equal((uint)EventChannelStatusCode.Interdomain, U32(st, 8));
        Assert.Equal(local, U32(st, 20));

        Put(BitConverter.GetBytes(ipi));
        Assert.Equal(0, Op(EventChannelOp.Send));
        Assert.True(_d.Events.IsPending(ipi));
        Assert.Equal(0, Op(EventChannelOp.Unmask));

        var bv = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(bv, (uint)offered);
        BinaryPrimitives.WriteUInt32LittleEndian(bv.AsSpan(4), 1);
        Put(bv);
        Assert.Equal(-XenErrno.ENOENT, Op(EventChannelOp.BindVcpu));
    }

    [Fact]
    public void ErrorsAreXenErrnos()
    {
        Put(BitConverter.GetBytes(uint.MaxValue));
        Assert.Equal(-XenErrno.EINVAL, Op(EventChannelOp.Send));
        Assert.Equal(-XenErrno.EINVAL, Op(EventChannelOp.Close));
        Assert.Equal(-XenErrno.EINVAL, Op(EventChannelOp.Unmask));
        Put(BitConverter.GetBytes(5000u));
        Assert.Equal(-XenErrno.EINVAL, Op(EventChannelOp.Send));
        Put(BitConverter.GetBytes(1u));
        Assert.Equal(0, Op(EventChannelOp.Send)); // the store port, unbound without a backend: dropped

        Put(new byte[12]);
        Assert.Equal(-XenErrno.EPERM, Op(EventChannelOp.BindPirq));
        Put(BitConverter.GetBytes(uint.MaxValue));
        Assert.Equal(-XenErrno.EINVAL, Op(EventChannelOp.BindPirq));

        // The FIFO commands before FIFO is in use: a bad control frame is refused and leaves the domain 2-level.
        var init = new byte[EventChannelOp.InitControlSize];
        BinaryPrimitives.WriteUInt64LittleEndian(init, unchecked((ulong)-2L));
        Put(init);
        Assert.Equal(-XenErrno.EINVAL, Op(EventChannelOp.InitControl));
        Assert.False(_d.Events.UsesFifo);
        Assert.Equal(-XenErrno.EOPNOTSUPP, Op(EventChannelOp.ExpandArray));
        Put([1, 0, 0, 0, 7, 0, 0, 0]);
        Assert.Equal(-XenErrno.ENOSYS, Op(EventChannelOp.SetPriority));
        Assert.Equal(-XenErrno.ENOSYS, Op(99));
        Assert.Equal(-XenErrno.ENOSYS, Call(HypercallNumber.EventChannelOp, unchecked((ulong)-1L), Scratch));

        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.EventChannelOp, EventChannelOp.Status, Unmapped));
        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.EventChannelOp, EventChannelOp.Send, 0xffff828000000000));
        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.EventChannelOpCompat, Unmapped));
    }

    [Fact]
    public void InitControlWritesLinkBitsOnlyOnSuccessAndTheFifoCommandsReachTheTable()
    {
        var init = new byte[EventChannelOp.InitControlSize];
        init.AsSpan(16).Fill(0xcc);
        BinaryPrimitives.WriteUInt64LittleEndian(init, _d.P2m[^1].Value);
        BinaryPrimitives.WriteUInt32LittleEndian(init.AsSpan(8), 4); // misaligned
        Put(init);
        Assert.Equal(-XenErrno.EINVAL, Op(EventChannelOp.InitControl));
        Assert.Equal(init, Get(init.Length));

        BinaryPrimitives.WriteUInt32LittleEndian(init.AsSpan(8), 64);
        BinaryPrimitives.WriteUInt32LittleEndian(init.AsSpan(12), 1); // one vCPU only
        Put(init);
        Assert.Equal(-XenErrno.ENOENT, Op(EventChannelOp.InitControl));

        BinaryPrimitives.WriteUInt32LittleEndian(init.AsSpan(12), 0);
        Put(init);
        Assert.Equal(0, Op(EventChannelOp.InitControl));
        byte[] r = Get(init.Length);
        Assert.Equal(EventFifoLayout.LinkBits, r[16]);
        Assert.Equal(init[..16], r[..16]);
        Assert.Equal(new byte[] { 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc }, r[17..]);
        Assert.True(_d.Events.UsesFifo);

        Put(BitConverter.GetBytes(_d.P2m[^2].Value));
        Assert.Equal(0, Op(EventChannelOp.ExpandArray));
        Put(BitConverter.GetBytes(unchecked((ulong)-2L)));
        Assert.Equal(-XenErrno.EINVAL, Op(EventChannelOp.ExpandArray));

        Put([1, 0, 0, 0, 3, 0, 0, 0]); // the store port
        Assert.Equal(0, Op(EventChannelOp.SetPriority));
        Put([1, 0, 0, 0, 16, 0, 0, 0]);
        Assert.Equal(-XenErrno.EINVAL, Op(EventChannelOp.SetPriority));
        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.EventChannelOp, EventChannelOp.InitControl, Unmapped));
    }

    [Fact]
    public void ResetClosesEveryPort()
    {
        int ipi = _d.Events.BindIpi(0);
        Put(BitConverter.GetBytes((ushort)EventChannelOp.DomidSelf));
        Assert.Equal(0, Op(EventChannelOp.Reset));
        Assert.Equal((uint)EventChannelStatusCode.Closed, U32(Status(EventChannelOp.DomidSelf, (uint)ipi), 8));
        Assert.Equal((uint)EventChannelStatusCode.Closed, U32(Status(EventChannelOp.DomidSelf, 1), 8));
    }

    [Fact]
    public void CompatFormCarriesTheCommandAndItsStructInOne()
    {
        var op = new byte[EventChannelOp.CompatOpSize];
        BinaryPrimitives.WriteUInt32LittleEndian(op, EventChannelOp.Status);
        BinaryPrimitives.WriteUInt16LittleEndian(op.AsSpan(4), EventChannelOp.DomidSelf);
        BinaryPrimitives.WriteUInt32LittleEndian(op.AsSpan(8), 1);
        Put(op);
        Assert.Equal(0, Call(HypercallNumber.EventChannelOpCompat, Scratch));
        byte[] r = Get(EventChannelOp.CompatOpSize);
        Assert.Equal((uint)EventChannelStatusCode.Unbound, U32(r, 12));

        BinaryPrimitives.WriteUInt32LittleEndian(op, EventChannelOp.BindIpi);
        BinaryPrimitives.WriteUInt32LittleEndian(op.AsSpan(4), 0);
        Put(op);
        Assert.Equal(0, Call(HypercallNumber.EventChannelOpCompat, Scratch));
        Assert.Equal(3U, U32(Get(EventChannelOp.CompatOpSize), 8));

        foreach (int cmd in new[] { EventChannelOp.Reset, EventChannelOp.InitControl, 42 })
        {
            BinaryPrimitives.WriteUInt32LittleEndian(op, (uint)cmd);
            Put(op);
            Assert.Equal(-XenErrno.ENOSYS, Call(HypercallNumber.EventChannelOpCompat, Scratch));
        }
    }

    private byte[] Status(ushort dom, uint port)
    {
        var s = new byte[24];
        BinaryPrimitives.WriteUInt16LittleEndian(s, dom);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(4), port);
        Put(s);
        Assert.Equal(0, Op(EventChannelOp.Status));
        return Get(24);
    }

    private long Op(int cmd) => Call(HypercallNumber.EventChannelOp, (ulong)cmd, Scratch);

    private long Call(int nr, ulong a1 = 0, ulong a2 = 0) => (long)HypercallDispatcher.Dispatch(_v, (ulong)nr, a1, a2, 0, 0, 0);

    private void Put(ReadOnlySpan<byte> bytes) => Assert.True(_v.CopyToGuest(Scratch, bytes));

    private byte[] Get(int n)
    {
        var b = new byte[n];
        Assert.True(_v.CopyFromGuest(Scratch, b));
        return b;
    }

    private static uint U32(byte[] b, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(offset));
}
