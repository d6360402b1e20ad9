using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using Xunit;

namespace XenSharp.Tests.Domains;

/// <summary>
/// The vCPU state machine: its legal transitions, bringing up and down, blocking and waking, and pause — nested,
/// parking a running vCPU, keeping a blocked one blocked, and the domain's end releasing every wait. A thread plays the
/// vCPU's own; every wait on it has a generous limit that is only a verdict.
/// </summary>
public sealed class VcpuLifecycleTests
{
    private static readonly TimeSpan Verdict = TimeSpan.FromSeconds(60);

    [Fact]
    public void OnlyTheListedTransitionsAreLegal()
    {
        (VcpuState, VcpuState)[] legal =
        [
            (VcpuState.Offline, VcpuState.Runnable), (VcpuState.Runnable, VcpuState.Running),
            (VcpuState.Runnable, VcpuState.Paused), (VcpuState.Runnable, VcpuState.Offline),
            (VcpuState.Running, VcpuState.Runnable), (VcpuState.Running, VcpuState.Blocked), (VcpuState.Running, VcpuState.Paused),
            (VcpuState.Running, VcpuState.Offline), (VcpuState.Blocked, VcpuState.Running),
            (VcpuState.Paused, VcpuState.Running), (VcpuState.Paused, VcpuState.Offline),
        ];
        foreach (VcpuState from in Enum.GetValues<VcpuState>())
        {
            foreach (VcpuState to in Enum.GetValues<VcpuState>())
            {
                Assert.Equal(legal.Contains((from, to)), VcpuLifecycle.IsLegal(from, to));
            }
        }
    }

    [Fact]
    public void UpRunBlockWakeDown()
    {
        var l = new VcpuLifecycle();
        Assert.Equal(VcpuState.Offline, l.State);
        Assert.Equal(-XenErrno.EINVAL, l.BringUp()); // no context yet
        Assert.Equal(-XenErrno.EINVAL, l.Initialise(() => -XenErrno.EINVAL, online: true, out bool up));
        Assert.False(up);
        Assert.False(l.IsInitialised);
        Assert.Equal(0, l.Initialise(() => 0, online: false, out up));
        Assert.False(up);
        Assert.Equal(-XenErrno.EEXIST, l.Initialise(() => 0, online: false, out _));
        Assert.Equal(VcpuState.Offline, l.State);
        Assert.Equal(1, l.BringUp());
        Assert.Equal(0, l.BringUp()); // already up
        Assert.Equal(VcpuState.Runnable, l.State);
        Assert.True(l.EnterRunning());
        l.Block();
        Assert.Equal(VcpuState.Blocked, l.State);
        Assert.True(l.TryWake());
        Assert.Equal(VcpuState.Running, l.State);
        Assert.True(l.TakeDown());
        Assert.False(l.TakeDown());
        Assert.False(l.IsUp);
    }

    [Fact]
    public void WaitingForAPhysicalCpu_IsRunnable_AndAPauseMeanwhileParksIt()
    {
        var l = new VcpuLifecycle();
        l.MarkInitialisedAndUp();
        Assert.True(l.EnterRunning());
        l.Deschedule(); // preempted: waits for a slot
        Assert.Equal(VcpuState.Runnable, l.State);
        l.Reschedule();
        Assert.Equal(VcpuState.Running, l.State);
        l.Reschedule(); // already running: no move
        Assert.Equal(VcpuState.Running, l.State);
        l.Block();
        l.Deschedule(); // only a running vCPU waits for a slot
        Assert.Equal(VcpuState.Blocked, l.State);
    }

    [Fact]
    public void AnIllegalMoveThrows()
    {
        var l = new VcpuLifecycle();
        l.MarkInitialisedAndUp();
        Assert.Throws<InvalidOperationException>(l.Block); // Runnable cannot block: only a running vCPU calls SCHEDOP_block
    }

    [Fact]
    public void TakenDownBeforeItRan_ItIsOfflineAgain()
    {
        var l = new VcpuLifecycle();
        l.MarkInitialisedAndUp();
        Assert.True(l.TakeDown());
        Assert.Equal(VcpuState.Offline, l.State);
        Assert.False(l.EnterRunning());
    }

    [Fact]
    public void APausedRunningVcpuParksAndResumesAfterTheLastOfNestedPauses()
    {
        var l = new VcpuLifecycle();
        l.MarkInitialisedAndUp();
        using var resumed = new ManualResetEventSlim();
        using var stop = new ManualResetEventSlim();
        using var entered = new ManualResetEventSlim();
        l.ThreadStarted(); // before the thread exists, as VcpuRunner.Start does: a wait for quiescence waits for it
        var vcpu = new Thread(() =>
        {
            Assert.True(l.EnterRunning());
            entered.Set();
            while (!stop.IsSet)
            {
                if (l.IsPauseRequested)
                {
                    Assert.True(l.Park());
                    resumed.Set();
                }

                Thread.Yield();
            }

            l.Exit();
        });
        vcpu.Start();
        Assert.True(entered.Wait(Verdict)); // running before the pause: the case under test

        l.RequestPause();
        Assert.True(l.WaitQuiescent(Verdict));
        Assert.Equal(VcpuState.Paused, l.State);
        l.RequestPause();
        Assert.True(l.ReleasePause());
        Assert.True(l.IsQuiescent); // one pause left
        Assert.Equal(VcpuState.Paused, l.State);
        Assert.False(resumed.IsSet);
        Assert.True(l.ReleasePause());
        Assert.True(resumed.Wait(Verdict));
        Assert.Equal(VcpuState.Running, l.State);
        Assert.False(l.ReleasePause()); // not paused

        stop.Set();
        Assert.True(vcpu.Join(Verdict));
        Assert.Equal(VcpuState.Offline, l.State);
        Assert.True(l.IsQuiescent);
    }

    [Fact]
    public void ABlockedVcpuStaysBlockedThroughAPause()
    {
        var l = new VcpuLifecycle();
        l.MarkInitialisedAndUp();
        Assert.True(l.EnterRunning());
        l.Block();
        l.RequestPause();
        Assert.False(l.TryWake()); // an event came: it still may not run while paused
        Assert.Equal(VcpuState.Blocked, l.State);
        Assert.True(l.ReleasePause());
        Assert.True(l.TryWake());
        Assert.Equal(VcpuState.Running, l.State);
    }

    [Fact]
    public void ABlockedThreadParksWhilePausedAndThePauserSeesItQuiescent()
    {
        var l = new VcpuLifecycle();
        l.MarkInitialisedAndUp();
        using var blocked = new ManualResetEventSlim();
        l.ThreadStarted(); // before the thread exists, as VcpuRunner.Start does: a wait for quiescence waits for it
        var vcpu = new Thread(() =>
        {
            l.EnterRunning();
            l.Block();
            blocked.Set();
            while (!l.IsPauseRequested)
            {
                Thread.Yield();
            }

            while (!l.TryWake())
            {
                l.ParkBlocked();
            }

            l.Exit();
        });
        vcpu.Start();
        Assert.True(blocked.Wait(Verdict));
        l.RequestPause();
        Assert.True(l.WaitQuiescent(Verdict));
        Assert.Equal(VcpuState.Blocked, l.State);
        l.ReleasePause();
        Assert.True(vcpu.Join(Verdict));
        Assert.Equal(VcpuState.Offline, l.State);
    }

    [Fact]
    public void TheDomainsEndReleasesAParkedThread()
    {
        var l = new VcpuLifecycle();
        l.MarkInitialisedAndUp();
        bool? result = null;
        l.ThreadStarted(); // before the thread exists, as VcpuRunner.Start does: a wait for quiescence waits for it
        var vcpu = new Thread(() =>
        {
            l.EnterRunning();
            l.TakeDown();
            result = l.Park(); // down: waits for VCPUOP_up
            l.Exit();
        });
        vcpu.Start();
        Assert.True(l.WaitQuiescent(Verdict));
        Assert.Equal(VcpuState.Offline, l.State);
        l.RequestStop();
        Assert.True(vcpu.Join(Verdict));
        Assert.False(result);
    }

    [Fact]
    public void UpWakesAVcpuParkedWhileDown()
    {
        var l = new VcpuLifecycle();
        l.MarkInitialisedAndUp();
        bool? result = null;
        l.ThreadStarted(); // before the thread exists, as VcpuRunner.Start does: a wait for quiescence waits for it
        var vcpu = new Thread(() =>
        {
            l.EnterRunning();
            l.TakeDown();
            result = l.Park();
        });
        vcpu.Start();
        Assert.True(l.WaitQuiescent(Verdict));
        Assert.Equal(1, l.BringUp());
        Assert.True(vcpu.Join(Verdict));
        Assert.True(result);
        Assert.Equal(VcpuState.Running, l.State);
    }
}
