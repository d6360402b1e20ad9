using XenSharp.Abi;
using XenSharp.Hypervisor.Events;
using Xunit;
using static XenSharp.Tests.Events.FifoGuestMemory;

namespace XenSharp.Tests.Events;

/// <summary>Raising FIFO events: queue order, priorities, masking, ports without an event word, and hostile event words.</summary>
public sealed class FifoDeliveryTests : IDisposable
{
    private const int Default = EventFifoLayout.PriorityDefault;
    private readonly FifoGuestMemory _g = new();

    public FifoDeliveryTests() => _g.StartFifo();

    private EventChannelTable T => _g.Events;

    public void Dispose() => _g.Dispose();

    [Fact]
    public void EventsAreLinkedInRaiseOrderOntoTheNotifyVcpusDefaultQueue()
    {
        int a = T.BindIpi(0), b = T.BindIpi(0), c = T.BindIpi(0);
        Send(a, b, c);

        Assert.Equal((uint)a, _g.Head(0, Default));
        Assert.Equal(Pending | Linked | (uint)b, _g.Word(a));
        Assert.Equal(Pending | Linked | (uint)c, _g.Word(b));
        Assert.Equal(Pending | Linked, _g.Word(c));
        Assert.Equal(1u << Default, _g.Ready(0));
        Assert.Equal(1, _g.UpcallPending(0));
        Assert.Equal(1, _g.Domain.Vcpus[0].Wake.CurrentCount);
        Assert.Equal(0u, _g.Ready(1));
        Assert.Equal(0, _g.UpcallPending(1));
        Assert.True(T.IsPending((uint)b));

        // Raising a port that is already queued changes nothing.
        _g.ClearUpcall(0);
        Send(a);
        Assert.Equal(Pending | Linked | (uint)b, _g.Word(a));
        Assert.Equal(Pending | Linked, _g.Word(c));
        Assert.Equal(0, _g.UpcallPending(0));

        Assert.Equal([a, b, c], _g.Consume(0, Default));
    }

    [Fact]
    public void AnEventTheGuestTookOffGoesBehindTheTailOrStartsAnEmptyQueue()
    {
        int a = T.BindIpi(0), b = T.BindIpi(0);
        Send(a, b);

        // The guest takes a (the head) off; b is still the tail, so a raised again goes behind it, with no new ready bit.
        _g.Head(0, Default) = (uint)b;
        _g.Word(a) = 0;
        _g.ClearUpcall(0);
        Send(a);
        Assert.Equal(Pending | Linked | (uint)a, _g.Word(b));
        Assert.Equal(0, _g.UpcallPending(0));
        Assert.Equal([b, a], _g.Consume(0, Default));

        // Everything consumed: the next raise is the head of an empty queue again and the vCPU gets an upcall.
        Send(a);
        Assert.Equal((uint)a, _g.Head(0, Default));
        Assert.Equal(Pending | Linked, _g.Word(a));
        Assert.Equal(1u << Default, _g.Ready(0));
        Assert.Equal(1, _g.UpcallPending(0));
    }

    [Fact]
    public void PrioritiesPickTheQueueAndOnlyMoveFutureEvents()
    {
        int a = T.BindIpi(0), b = T.BindIpi(0);
        Assert.Equal(0, T.SetPriority((uint)b, 2));
        Send(a, b);
        Assert.Equal((uint)a, _g.Head(0, Default));
        Assert.Equal((uint)b, _g.Head(0, 2));
        Assert.Equal(Pending | Linked, _g.Word(a)); // not linked to b: other queue
        Assert.Equal((1u << Default) | (1u << 2), _g.Ready(0));

        // b is queued at priority 2; moving it to 0 leaves it there, its next raise after consumption goes to queue 0.
        Assert.Equal(0, T.SetPriority((uint)b, EventFifoLayout.PriorityMax));
        Assert.Equal([b], _g.Consume(0, 2));
        Send(b);
        Assert.Equal((uint)b, _g.Head(0, 0));
        Assert.Equal(0u, _g.Head(0, 2));

        // A new binding starts at the default again.
        Assert.Equal(0, T.Close((uint)b));
        Assert.Equal([b], _g.Consume(0, 0));
        int again = T.BindIpi(0);
        Assert.Equal(b, again);
        Send(again);
        Assert.Equal(Pending | Linked | (uint)again, _g.Word(a));
    }

    [Fact]
    public void SetPriorityChecksPortStateAndRange()
    {
        int a = T.BindIpi(0);
        Assert.Equal(-XenErrno.EINVAL, T.SetPriority((uint)a, EventFifoLayout.PriorityMin + 1));
        Assert.Equal(-XenErrno.EINVAL, T.SetPriority((uint)a, uint.MaxValue));
        Assert.Equal(0, T.SetPriority((uint)a, EventFifoLayout.PriorityMin));
        Assert.Equal(-XenErrno.EACCES, T.SetPriority(0, 3));           // reserved
        Assert.Equal(-XenErrno.EACCES, T.SetPriority((uint)a + 1, 3)); // free, in a valid bucket
        Assert.Equal(-XenErrno.EINVAL, T.SetPriority(5000, 3));
        Assert.Equal(-XenErrno.EINVAL, T.SetPriority(uint.MaxValue, 3));
    }

    [Fact]
    public void EventsFollowTheNotifyVcpu()
    {
        int offered = T.AllocUnbound(EventChannelOp.DomidSelf);
        int local = T.BindInterdomain(EventChannelOp.DomidSelf, (uint)offered);
        _g.Consume(0, Default); // binding raised the new local port once
        _g.ClearUpcall(0);
        Assert.Equal(0, T.BindVcpu((uint)local, 1));

        Send(offered);
        Assert.Equal((uint)local, _g.Head(1, Default));
        Assert.Equal(1u << Default, _g.Ready(1));
        Assert.Equal(1, _g.UpcallPending(1));
        Assert.Equal(0u, _g.Head(0, Default));
        Assert.Equal(0, _g.UpcallPending(0));
    }

    [Fact]
    public void AMaskedEventIsOnlyPendingUntilUnmaskLinksIt()
    {
        int a = T.BindIpi(1);
        _g.Word(a) = Masked;
        Send(a);
        Assert.Equal(Pending | Masked, _g.Word(a));
        Assert.Equal(0u, _g.Head(1, Default));
        Assert.Equal(0u, _g.Ready(1));
        Assert.Equal(0, _g.UpcallPending(1));

        Assert.Equal(0, T.Unmask((uint)a));
        Assert.Equal(Pending | Linked, _g.Word(a));
        Assert.Equal((uint)a, _g.Head(1, Default));
        Assert.Equal(1u << Default, _g.Ready(1));
        Assert.Equal(1, _g.UpcallPending(1));
        Assert.Equal(1, _g.Domain.Vcpus[1].Wake.CurrentCount);

        // Unmasking a port that is not pending only clears the mask.
        int b = T.BindIpi(1);
        _g.Word(b) = Masked;
        Assert.Equal(0, T.Unmask((uint)b));
        Assert.Equal(0u, _g.Word(b));
    }

    [Fact]
    public void PortsBeyondTheArrayMayBeBoundAndTheirEventsWaitForThePage()
    {
        T.MaxPort = 2000;
        int last = 0;
        while (last < EventFifoLayout.WordsPerPage + 10)
        {
            last = T.BindIpi(0);
        }

        // Port `last` has no event word: a raise is remembered, nothing is written, unmask has nothing to clear.
        Send(last);
        Assert.False(T.IsPending((uint)last));
        Assert.Equal(0, T.Unmask((uint)last));
        Assert.Equal(0u, _g.Head(0, Default));
        Assert.Equal(0, _g.UpcallPending(0));

        Assert.Equal(0, T.ExpandArray(_g.Gfn(2)));
        Assert.True(T.IsPending((uint)last));
        Assert.Equal((uint)last, _g.Head(0, Default));
        Assert.Equal(Pending | Linked, _g.Word(last));
        Assert.Equal(1, _g.UpcallPending(0));
    }

    [Fact]
    public void APortClosedWhileQueuedIsNotReusedUntilTheGuestUnlinksIt()
    {
        int a = T.BindIpi(0);
        Send(a);
        Assert.Equal(0, T.Close((uint)a));
        Assert.Equal(Linked, _g.Word(a)); // close clears only PENDING
        int next = T.BindIpi(0);
        Assert.NotEqual(a, next);

        _g.Consume(0, Default);
        Assert.Equal(a, T.BindIpi(0));
    }

    [Fact]
    public void AVcpuWithoutAControlBlockDropsItsEvents()
    {
        _g.Events.Reset();
        Assert.Equal(0, T.InitControl(_g.Gfn(0), 0, 0));
        Assert.Equal(0, T.ExpandArray(_g.Gfn(1)));
        int a = T.BindIpi(1);
        Send(a);
        Assert.Equal(0u, _g.Word(a));
        Assert.Equal(0, _g.UpcallPending(1));
    }

    [Fact]
    public void GarbageInTheGuestsWordsOnlyAffectsTheGuest()
    {
        int a = T.BindIpi(0), b = T.BindIpi(0), c = T.BindIpi(0);

        // A word the guest marked LINKED itself is never linked (the event waits), and nothing else is touched.
        _g.Word(c) = Linked | 0x1ffff;
        Send(c);
        Assert.Equal(Pending | Linked | 0x1ffffu, _g.Word(c));
        Assert.Equal(0u, _g.Head(0, Default));

        // A tail whose link bits and BUSY are garbage still gets exactly the new link.
        Send(a);
        _g.Word(a) = Pending | Linked | Busy | 0x1ffff;
        Send(b);
        Assert.Equal(Pending | Linked | (uint)b, _g.Word(a));

        // Head and ready are the guest's to scribble on: the hypervisor only writes them when a queue was empty.
        _g.Head(0, Default) = 0xdeadbeef;
        _g.Ready(0) = 0xffffffff;
        Assert.Equal([], _g.Consume(0, 3));
    }

    [Fact]
    public async Task AGuestRewritingTheTailWordConcurrentlyCannotStallTheHost()
    {
        int a = T.BindIpi(0), b = T.BindIpi(0);
        Send(a);
        using var stop = new CancellationTokenSource();
        Task hostile = Task.Run(() =>
        {
            var rng = new Random(1);
            while (!stop.IsCancellationRequested)
            {
                Interlocked.Exchange(ref _g.Word(a), (uint)rng.Next() | Linked);
            }
        });

        var timer = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 20000; i++)
        {
            Send(b);
            Interlocked.Exchange(ref _g.Word(b), 0); // the guest takes b off again
        }

        stop.Cancel();
        await hostile;
        Assert.True(timer.Elapsed < TimeSpan.FromSeconds(20), $"{timer.Elapsed}");
        Assert.Equal(0, T.Status((uint)b, out EventChannelStatus s));
        Assert.Equal(EventChannelStatusCode.Ipi, s.Status);
    }

    [Fact]
    public void RaisingAllocatesNothing()
    {
        int a = T.BindIpi(0), b = T.BindIpi(0);
        Assert.Equal(0, T.SetPriority((uint)b, 3));
        uint ua = (uint)a, ub = (uint)b;

        // A round may see the runtime's own allocations while tiered compilation replaces the code under it (more
        // likely on a loaded machine); allocation on the path itself would show in every round.
        long least = long.MaxValue;
        for (int round = 0; round < 20 && least != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++)
            {
                T.Send(ua);
                T.Send(ub);
                T.Unmask(ua);
                _g.Word(a) = 0; // the guest takes both off again
                _g.Word(b) = 0;
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            least = round == 0 ? long.MaxValue : Math.Min(least, allocated);
        }

        Assert.Equal(0, least);
    }

    private void Send(params int[] ports)
    {
        foreach (int p in ports)
        {
            Assert.Equal(0, T.Send((uint)p));
        }
    }
}
