using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Tests.Builder;
using Xunit;

namespace XenSharp.Tests.Domains;

/// <summary>
/// Domain.Pause without a machine: vCPUs with no thread are quiescent at once; pauses nest and each needs its unpause;
/// a domain cannot pause itself from one of its own vCPUs; a blocked vCPU (a thread plays it) stays blocked through
/// the pause though an event wakes it meanwhile, and runs once unpaused.
/// </summary>
public sealed class DomainPauseTests : IDisposable
{
    private static readonly TimeSpan Verdict = TimeSpan.FromSeconds(60);
    private readonly XenHypervisor _hv;
    private readonly Domain _d;

    public DomainPauseTests()
    {
        _hv = TestDomains.Hypervisor();
        _d = TestDomains.Build(_hv, vcpus: 2);
    }

    public void Dispose() => _hv.Dispose();

    [Fact]
    public void PausesNest()
    {
        _d.Pause();
        _d.Pause();
        Assert.Equal(2, _d.PauseCount);
        Assert.All(_d.Vcpus, v => Assert.Equal(2, v.Lifecycle.PauseCount));
        Assert.True(_d.Unpause());
        Assert.All(_d.Vcpus, v => Assert.True(v.Lifecycle.IsPauseRequested));
        Assert.True(_d.Unpause());
        Assert.False(_d.Unpause());
        Assert.All(_d.Vcpus, v => Assert.False(v.Lifecycle.IsPauseRequested));
    }

    [Fact]
    public void ADomainCannotPauseItselfFromItsOwnVcpu()
    {
        Exception? thrown = null;
        var own = new Thread(() =>
        {
            _d.Vcpus[1].BindToCurrentThread();
            thrown = Record.Exception(_d.Pause);
        });
        own.Start();
        Assert.True(own.Join(Verdict));
        Assert.IsType<InvalidOperationException>(thrown);
        Assert.Equal(0, _d.PauseCount);
    }

    [Fact]
    public void ABlockedVcpuStaysBlockedThroughThePauseAndWakesAfter()
    {
        Vcpu v = _d.Vcpus[0];
        v.Lifecycle.ThreadStarted();
        using var blocked = new ManualResetEventSlim();
        bool wokeWhilePaused = false;
        var own = new Thread(() =>
        {
            v.BindToCurrentThread();
            v.Lifecycle.EnterRunning();
            v.BeginBlock();
            blocked.Set();
            while (!v.StopRequested)
            {
                if (v.Lifecycle.IsPauseRequested)
                {
                    v.ParkBlocked();
                    continue;
                }

                v.Wake.Wait(50);
            }

            v.EndBlock();
            wokeWhilePaused = _d.PauseCount > 0;
        });
        own.Start();
        Assert.True(blocked.Wait(Verdict));
        _d.Pause();
        Assert.Equal(VcpuState.Blocked, v.Lifecycle.State);
        Assert.Equal(RunstateLayout.Blocked, v.Runstate.State);
        v.Kick(interrupt: true); // an event arrives while paused: it stays parked, blocked
        Assert.Equal(VcpuState.Blocked, v.Lifecycle.State);
        Assert.True(_d.Unpause());
        v.StopRequested = true;
        Assert.True(own.Join(Verdict));
        Assert.False(wokeWhilePaused);
        Assert.Equal(VcpuState.Running, v.Lifecycle.State);
    }

    [Fact]
    public void DomainControl_PausesNestAndUnpause()
    {
        _hv.Control.Pause(_d.Id);
        _hv.Control.Pause(_d.Id);
        Assert.Equal(2, _d.PauseCount);
        Assert.True(_hv.Control.Unpause(_d.Id));
        Assert.True(_hv.Control.Unpause(_d.Id));
        Assert.False(_hv.Control.Unpause(_d.Id));
    }

    [Fact]
    public void DomainControl_ContextRoundTripsAndLeavesTheDomainUnpaused()
    {
        VcpuContext ctx = _hv.Control.GetVcpuContext(_d.Id, 0);
        Assert.Equal(0, _d.PauseCount);
        Assert.Equal(0, _hv.Control.SetVcpuContext(_d.Id, 0, ctx));
        Assert.Equal(ctx, _hv.Control.GetVcpuContext(_d.Id, 0));
        Assert.Equal(-XenErrno.EINVAL, _hv.Control.SetVcpuContext(_d.Id, 0, ctx with { Rip = 0x0000800000000000 }));
        Assert.Equal(ctx, _hv.Control.GetVcpuContext(_d.Id, 0));
        Assert.Equal(0, _d.PauseCount);
    }

    [Fact]
    public void DomainControl_NoSuchDomainOrVcpuIsAnArgumentError()
    {
        Assert.Throws<ArgumentException>(() => _hv.Control.Pause(999));
        Assert.Throws<ArgumentException>(() => _hv.Control.GetVcpuContext(_d.Id, 2));
        Assert.Throws<ArgumentException>(() => _hv.Control.SetVcpuContext(_d.Id, -1, new VcpuContext()));
    }
}
