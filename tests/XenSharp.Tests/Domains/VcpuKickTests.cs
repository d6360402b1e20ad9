using XenSharp.Hypervisor.Domains;
using XenSharp.Tests.Emulation;
using Xunit;

namespace XenSharp.Tests.Domains;

/// <summary>
/// Vcpu.Kick as Xen's vcpu_kick: it always wakes a blocked vCPU, but interrupts only one inside the guest, and never
/// the calling vCPU itself (<c>current</c>): one out of the guest checks for events before it enters again.
/// </summary>
public sealed class VcpuKickTests : EmulationFixture
{
    [Fact]
    public void AVcpuOutOfTheGuestIsWokenButNotInterrupted()
    {
        V.Kick(interrupt: true);
        Assert.Equal(0, Machine.Kicks);
        Assert.Equal(1, V.Wake.CurrentCount);
    }

    [Fact]
    public void AVcpuInsideTheGuestIsInterrupted()
    {
        V.Lifecycle.SetInGuest(true);
        V.Kick(interrupt: true);
        V.Kick(interrupt: false);
        Assert.Equal(1, Machine.Kicks);
    }

    [Fact]
    public void TheCallingVcpuIsNotKicked()
    {
        V.Lifecycle.SetInGuest(true); // as seen from elsewhere; its own thread is the caller here
        var own = new Thread(() =>
        {
            V.BindToCurrentThread();
            Assert.Same(V, Vcpu.Current);
            V.Kick(interrupt: true);
        });
        own.Start();
        Assert.True(own.Join(TimeSpan.FromSeconds(60)));
        Assert.Equal(0, Machine.Kicks);
    }
}
