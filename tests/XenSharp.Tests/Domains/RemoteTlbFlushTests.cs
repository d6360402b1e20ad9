using XenSharp.Hypervisor.Domains;
using XenSharp.Tests.Emulation;
using Xunit;

namespace XenSharp.Tests.Domains;

/// <summary>
/// Another vCPU's TLB flush is synchronous, as Xen's flush_tlb_mask: a vCPU inside the guest is kicked and the flush
/// returns only once it has left the guest (it reloads CR3 on its way back in); one outside the guest, or the caller
/// itself, only gets the flush byte its next entry obeys.
/// </summary>
public sealed class RemoteTlbFlushTests : EmulationFixture
{
    [Fact]
    public void AVcpuOutOfTheGuestIsNotKicked()
    {
        V.RequestTlbFlushAndWait();
        Assert.Equal(0, Machine.Kicks);
    }

    [Fact]
    public void AVcpuInsideTheGuestIsKickedAndTheFlushReturnsOnceItHasLeft()
    {
        V.Lifecycle.SetInGuest(true);
        Machine.OnKick = () => V.Lifecycle.SetInGuest(false); // the exit the kick causes
        V.RequestTlbFlushAndWait();
        Assert.Equal(1, Machine.Kicks);
        Assert.False(V.Lifecycle.InGuest);
    }

    [Fact]
    public void TheFlushWaitsWhileTheVcpuStaysInTheGuest()
    {
        V.Lifecycle.SetInGuest(true);
        var flusher = new Thread(V.RequestTlbFlushAndWait);
        flusher.Start();
        SpinWait.SpinUntil(() => Machine.Kicks == 1);
        Assert.True(flusher.IsAlive); // still in the guest, same entry: the flush cannot have returned
        V.Lifecycle.SetInGuest(false);
        Assert.True(flusher.Join(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public void ANewEntryAfterTheByteWasSetEndsTheWait()
    {
        V.Lifecycle.SetInGuest(true);
        Machine.OnKick = () =>
        {
            V.Lifecycle.SetInGuest(false);
            V.Lifecycle.SetInGuest(true); // back in already: this entry went through the stub's flush
        };
        V.RequestTlbFlushAndWait();
        Assert.True(V.Lifecycle.InGuest);
    }

    [Fact]
    public void TheCallingVcpuOnlyMarksItself()
    {
        V.Lifecycle.SetInGuest(true); // as seen from elsewhere; its own thread is the caller here
        var own = new Thread(() =>
        {
            V.BindToCurrentThread();
            V.RequestTlbFlushAndWait();
        });
        own.Start();
        Assert.True(own.Join(TimeSpan.FromSeconds(60)));
        Assert.Equal(0, Machine.Kicks);
    }
}
