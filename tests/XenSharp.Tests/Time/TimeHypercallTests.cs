using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Events;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Time;
using XenSharp.Tests.Builder;
using Xunit;

namespace XenSharp.Tests.Time;

/// <summary>set_timer_op, vcpu_op and SCHEDOP_poll on a heap-memory domain with a hand-moved clock (no KVM, no timer thread).</summary>
public sealed class TimeHypercallTests : IDisposable
{
    private const ulong Scratch = 0x200000;
    private const ulong Ms = 1_000_000;
    private const ulong Unreadable = 0x0000800000000000; // non-canonical
    private readonly FakeClock _clock = new();
    private readonly XenHypervisor _hv;
    private readonly Domain _d;
    private readonly Vcpu _v;
    private readonly uint _timerPort;

    public TimeHypercallTests()
    {
        _hv = TestDomains.Hypervisor(clock: _clock);
        _d = TestDomains.Build(_hv, vcpus: 2);
        _v = _d.Vcpus[0];
        _v.Lifecycle.EnterRunning(); // the test's thread plays vCPU 0's: hypercalls come from a running vCPU
        _timerPort = (uint)_d.Events.BindVirq(Virq.Timer, 0);
    }

    public void Dispose() => _hv.Dispose();

    private ulong Now => _hv.Clock.Now;

    private long Call(int nr, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0) => (long)HypercallDispatcher.Dispatch(_v, (ulong)nr, a1, a2, a3, 0, 0);

    private bool TimerPending => _d.Events.PollPort(_timerPort) == 1;

    private void ClearTimer() => _d.Events.Close(_timerPort);

    private void Put(ulong va, ReadOnlySpan<byte> bytes) => Assert.True(_v.CopyToGuest(va, bytes));

    private void PutU64(ulong va, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        Put(va, b);
    }

    /// <summary>Runs the timers due after the clock moved on by <paramref name="ns"/>.</summary>
    private int Advance(ulong ns)
    {
        _clock.Advance((long)ns);
        return _hv.Timers.RunDue(_clock.NowNanoseconds);
    }

    [Fact]
    public void SetTimerOpFiresVirqTimerAtItsDeadlineNotBefore()
    {
        Assert.Equal(0, Call(HypercallNumber.SetTimerOp, Now + (5 * Ms)));
        Assert.Equal(0, Advance(4 * Ms));
        Assert.False(TimerPending);
        Assert.Equal(1, Advance(1 * Ms + 10_000)); // + the host-clock slack (ppm and 2 µs)
        Assert.True(TimerPending);
    }

    [Fact]
    public void SetTimerOpInThePastFiresAtOnceAndZeroCancels()
    {
        _clock.Advance(1_000_000_000);
        Assert.Equal(0, Call(HypercallNumber.SetTimerOp, Now - 1));
        Assert.True(TimerPending);

        ClearTimer();
        _timerPort2 = (uint)_d.Events.BindVirq(Virq.Timer, 0);
        Assert.Equal(0, Call(HypercallNumber.SetTimerOp, Now + Ms));
        Assert.Equal(0, Call(HypercallNumber.SetTimerOp, 0));
        Assert.Equal(0, Advance(10 * Ms));
        Assert.Equal(0, _d.Events.PollPort(_timerPort2));
    }

    private uint _timerPort2;

    [Fact]
    public void HugeOrNegativeTimeoutsFireIn100Ms()
    {
        Assert.Equal(0, Call(HypercallNumber.SetTimerOp, Now + (1UL << 51)));
        Assert.Equal(0, Advance(99 * Ms));
        Assert.Equal(1, Advance(2 * Ms));
        Assert.Equal(0, Call(HypercallNumber.SetTimerOp, 1UL << 63));
        Assert.Equal(1, Advance(101 * Ms));
    }

    [Fact]
    public void PeriodicTimerStartsAt10MsAndCanBeChangedOrStopped()
    {
        Assert.Equal(VcpuTimers.DefaultPeriodNs, _v.Timers.PeriodNs);
        _clock.Advance(20 * (long)Ms);
        _v.Timers.OnStart(_v.Now()); // the vCPU's thread starts 20 ms in: the first period (from 0) has ended
        Assert.True(TimerPending);
        Assert.Equal(1, Advance(10 * Ms + 20_000));

        PutU64(Scratch, 500_000);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.VcpuOp, VcpuOp.SetPeriodicTimer, 0, Scratch));
        PutU64(Scratch, 2 * Ms);
        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.SetPeriodicTimer, 0, Scratch));
        Assert.Equal(1, Advance(2 * Ms + 10_000));
        Assert.Equal(1, Advance(2 * Ms));
        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.StopPeriodicTimer, 0));
        Assert.Equal(0, Advance(100 * Ms));
        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.VcpuOp, VcpuOp.SetPeriodicTimer, 0, Unreadable));
    }

    [Fact]
    public void APeriodThatEndsWhileBlockedIsDeliveredOnWake()
    {
        _clock.Advance(20 * (long)Ms);
        _v.Timers.OnStart(_v.Now());
        _d.Events.Close(_timerPort);
        uint port = (uint)_d.Events.BindVirq(Virq.Timer, 0);
        _v.BeginBlock();
        Assert.Equal(1, Advance(10 * Ms + 20_000)); // fires, but the vCPU is blocked: nothing sent, not re-armed
        Assert.Equal(0, _d.Events.PollPort(port));
        Assert.Equal(0, Advance(50 * Ms));
        _v.EndBlock();
        Assert.Equal(1, _d.Events.PollPort(port));
    }

    /// <summary>
    /// Under an unstable host TSC, KVM freezes a vCPU's TSC while it is out of KVM_RUN (the hardware lane's kvm_amd
    /// does): the host clock still measures the block, so blocked time and the periodic timer move on.
    /// </summary>
    [Fact]
    public void ABlockIsMeasuredByTheHostClockWhenTheGuestTscStandsStill()
    {
        var machine = new Emulation.FakeVcpuMachine();
        machine.Msrs[0x10] = 5_000_000;
        _v.Machine = machine;
        _d.StartClock(new TscSample(5_000_000, _clock.NowNanoseconds), 1_000_000_000);
        _v.ChangeRunstate(RunstateLayout.Running);
        _v.BeginBlock();
        _clock.Advance(7 * (long)Ms);
        _v.EndBlock();
        Span<byte> b = stackalloc byte[RunstateLayout.Size];
        _v.Runstate.WriteTo(b);
        Assert.Equal(7 * Ms, BinaryPrimitives.ReadUInt64LittleEndian(b[(RunstateLayout.Time + (8 * RunstateLayout.Blocked))..]));
    }

    [Fact]
    public void SingleshotTimerIsTheCallersOnly()
    {
        Span<byte> st = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(st, Now + Ms);
        Put(Scratch, st);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.VcpuOp, VcpuOp.SetSingleshotTimer, 1, Scratch));
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.VcpuOp, VcpuOp.StopSingleshotTimer, 1));
        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.SetSingleshotTimer, 0, Scratch));
        Assert.True(_v.Timers.SingleshotArmed);
        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.StopSingleshotTimer, 0));
        Assert.False(_v.Timers.SingleshotArmed);

        BinaryPrimitives.WriteUInt64LittleEndian(st, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(st[8..], VcpuOp.SingleshotFuture); // current Xen: no -ETIME
        Put(Scratch, st);
        _clock.Advance(1_000);
        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.SetSingleshotTimer, 0, Scratch));
        Assert.True(TimerPending);
    }

    [Fact]
    public void VcpuIdsAreCheckedAndOnlyVcpu0StartsUp()
    {
        Assert.Equal(1, Call(HypercallNumber.VcpuOp, VcpuOp.IsUp, 0));
        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.IsUp, 1));
        Assert.Equal(-XenErrno.ENOENT, Call(HypercallNumber.VcpuOp, VcpuOp.IsUp, 2));
        Assert.Equal(-XenErrno.ENOENT, Call(HypercallNumber.VcpuOp, VcpuOp.IsUp, ulong.MaxValue));
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.VcpuOp, VcpuOp.Up, 1)); // not initialised
        Assert.Equal(-XenErrno.ENOSYS, Call(HypercallNumber.VcpuOp, 99, 0));
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.VcpuOp, VcpuOp.GetPhysid, 0, Scratch));
    }

    [Fact]
    public void RunstateReportsOfflineVcpusAndCopiesToTheRegisteredArea()
    {
        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.GetRunstateInfo, 1, Scratch));
        Span<byte> b = stackalloc byte[RunstateLayout.Size];
        Assert.True(_v.CopyFromGuest(Scratch, b));
        Assert.Equal(RunstateLayout.Offline, BinaryPrimitives.ReadInt32LittleEndian(b));

        PutU64(Scratch, Scratch + 0x100);
        _v.ChangeRunstate(RunstateLayout.Running);
        _clock.Advance(5 * (long)Ms);
        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.RegisterRunstateMemoryArea, 0, Scratch));
        _v.ChangeRunstate(RunstateLayout.Blocked);
        Assert.True(_v.CopyFromGuest(Scratch + 0x100, b));
        Assert.Equal(RunstateLayout.Blocked, BinaryPrimitives.ReadInt32LittleEndian(b));
        Assert.Equal(5 * Ms, BinaryPrimitives.ReadUInt64LittleEndian(b[(RunstateLayout.Time + (8 * RunstateLayout.Running))..]));

        PutU64(Scratch, 0xffff800000001000);
        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.VcpuOp, VcpuOp.RegisterRunstateMemoryArea, 0, Scratch));
    }

    [Fact]
    public void RegisterVcpuInfoMovesItOnceToAnOwnedPage()
    {
        Hypervisor.Memory.Mfn page = _d.P2m[^1];
        Span<byte> r = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(r, page.Value);
        BinaryPrimitives.WriteUInt32LittleEndian(r[8..], 4040);
        Put(Scratch, r);
        Assert.Equal(-XenErrno.ENXIO, Call(HypercallNumber.VcpuOp, VcpuOp.RegisterVcpuInfo, 0, Scratch));
        BinaryPrimitives.WriteUInt32LittleEndian(r[8..], 68);
        Put(Scratch, r);
        Assert.Equal(-XenErrno.ENXIO, Call(HypercallNumber.VcpuOp, VcpuOp.RegisterVcpuInfo, 0, Scratch));
        BinaryPrimitives.WriteUInt32LittleEndian(r[8..], 4096);
        Put(Scratch, r);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.VcpuOp, VcpuOp.RegisterVcpuInfo, 0, Scratch));

        BinaryPrimitives.WriteUInt64LittleEndian(r, _d.SharedInfo.Value + 100_000); // not the domain's
        BinaryPrimitives.WriteUInt32LittleEndian(r[8..], 64);
        Put(Scratch, r);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.VcpuOp, VcpuOp.RegisterVcpuInfo, 0, Scratch));

        BinaryPrimitives.WriteUInt64LittleEndian(r, page.Value);
        Put(Scratch, r);
        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.RegisterVcpuInfo, 0, Scratch));
        Assert.Equal(page.Address + 64, _v.RegisteredVcpuInfo);
        Assert.Equal(1, _v.VcpuInfo[SharedInfoLayout.UpcallPending]);
        Assert.Equal(ulong.MaxValue, BinaryPrimitives.ReadUInt64LittleEndian(_v.VcpuInfo[SharedInfoLayout.PendingSel..]));
        Assert.Equal(-XenErrno.EBUSY, Call(HypercallNumber.VcpuOp, VcpuOp.RegisterVcpuInfo, 0, Scratch));
    }

    [Fact]
    public void InitialiseChecksTheContextThenTheVcpuCanBeBroughtUp()
    {
        byte[] ctx = new byte[VcpuGuestContextLayout.Size];
        void U64(int off, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(ctx.AsSpan(off), v);
        U64(VcpuGuestContextLayout.Flags, VcpuGuestContextLayout.FlagInKernel);
        U64(VcpuGuestContextLayout.UserRegs + VcpuGuestContextLayout.Rip, 0x100000);
        U64(VcpuGuestContextLayout.UserRegs + VcpuGuestContextLayout.Cs, XenSelectors.FlatKernelCs);
        U64(VcpuGuestContextLayout.UserRegs + VcpuGuestContextLayout.Ss, XenSelectors.FlatKernelSs);
        U64(VcpuGuestContextLayout.UserRegs + VcpuGuestContextLayout.Rflags, 0x3202); // IOPL 3: virtualised
        U64(VcpuGuestContextLayout.ControlRegisters + 24, 0);

        Put(Scratch, ctx);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.VcpuOp, VcpuOp.Initialise, 1, Scratch)); // no CR3
        U64(VcpuGuestContextLayout.ControlRegisters + 24, _v.KernelL4.Address);
        U64(VcpuGuestContextLayout.EventCallback, 0x0000800000000000); // non-canonical
        Put(Scratch, ctx);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.VcpuOp, VcpuOp.Initialise, 1, Scratch));
        U64(VcpuGuestContextLayout.EventCallback, 0x101000);
        U64(VcpuGuestContextLayout.DebugRegisters + 56, 1UL << 40);
        Put(Scratch, ctx);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.VcpuOp, VcpuOp.Initialise, 1, Scratch)); // DR7 high half
        U64(VcpuGuestContextLayout.DebugRegisters + 56, 0);
        U64(VcpuGuestContextLayout.GdtEntries, 17 * 512);
        Put(Scratch, ctx);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.VcpuOp, VcpuOp.Initialise, 1, Scratch)); // too many GDT frames
        U64(VcpuGuestContextLayout.GdtEntries, 0);
        Put(Scratch, ctx);
        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.VcpuOp, VcpuOp.Initialise, 1, Unreadable));

        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.Initialise, 1, Scratch));
        Vcpu v1 = _d.Vcpus[1];
        Assert.Equal(_v.KernelL4, v1.KernelL4);
        Assert.Equal(0x101000UL, v1.EventCallback);
        Assert.Equal(3, v1.VirtualIopl);
        Assert.True(v1.InKernelMode);
        Assert.Equal(-XenErrno.EEXIST, Call(HypercallNumber.VcpuOp, VcpuOp.Initialise, 1, Scratch));
        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.IsUp, 1));
        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.Up, 1));
        Assert.Equal(1, Call(HypercallNumber.VcpuOp, VcpuOp.IsUp, 1));
        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.Down, 1));
        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.IsUp, 1));
        Assert.Equal(DomainState.Created, _d.State);
        Assert.Equal(0, Call(HypercallNumber.VcpuOp, VcpuOp.Down, 0)); // the last vCPU going down powers off
        Assert.Equal(ShutdownReason.Poweroff, _d.ShutdownReason);
    }

    [Fact]
    public void PollReturnsForPendingPortsAndRefusesBadOnes()
    {
        int unbound = _d.Events.AllocUnbound(_d.Id);
        Span<byte> ports = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(ports, _timerPort);
        BinaryPrimitives.WriteUInt32LittleEndian(ports[4..], (uint)unbound);
        Put(Scratch + 0x100, ports);
        Span<byte> p = stackalloc byte[24];
        BinaryPrimitives.WriteUInt64LittleEndian(p, Scratch + 0x100);
        BinaryPrimitives.WriteUInt32LittleEndian(p[8..], 2);
        Put(Scratch, p);
        _d.Events.SendVirq(_v, Virq.Timer);
        Assert.Equal(0, Call(HypercallNumber.SchedOp, SchedOp.Poll, Scratch)); // pending: returns without blocking

        BinaryPrimitives.WriteUInt32LittleEndian(ports, 3000);
        Put(Scratch + 0x100, ports);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.SchedOp, SchedOp.Poll, Scratch));
        BinaryPrimitives.WriteUInt32LittleEndian(p[8..], 129);
        Put(Scratch, p);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.SchedOp, SchedOp.Poll, Scratch));
        BinaryPrimitives.WriteUInt64LittleEndian(p, Unreadable);
        BinaryPrimitives.WriteUInt32LittleEndian(p[8..], 1);
        Put(Scratch, p);
        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.SchedOp, SchedOp.Poll, Scratch));
    }
}
