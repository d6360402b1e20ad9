using System.Runtime.InteropServices;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Events;

/// <summary>
/// The FIFO event-channel ABI (Xen's event_fifo.c): each port has a 32-bit event word (PENDING, MASKED, LINKED, BUSY,
/// and a 17-bit link to the next port) in the event-array pages the guest adds; raising an unmasked port links it at
/// the tail of one of 16 priority queues of the vCPU it notifies, whose heads and ready bits are in that vCPU's
/// control block. This file is delivery; FifoEvents.Setup.cs holds the pages.
/// <para>
/// Invariants: the table lock is held for every call (so the queue tails, <see cref="Channel.LastQueueVcpu"/> and the
/// page list change under it, which stands in for Xen's per-queue locks). Every tail is 0 or a port below
/// <see cref="PortCount"/>, and the page list only grows while this ABI is in use, so a tail always has a word. The
/// hypervisor only reads the words of the port being raised and of a queue's tail, never a link the guest wrote, and
/// changes a word only with interlocked operations; the one retry loop (<see cref="SetLink"/>) is bounded, so a guest
/// rewriting its words concurrently can lose its own events but never stall the host.
/// </para>
/// </summary>
internal sealed partial class FifoEvents : IEventAbi
{
    private const uint Pending = 1u << EventFifoLayout.PendingBit;
    private const uint Masked = 1u << EventFifoLayout.MaskedBit;
    private const uint Linked = 1u << EventFifoLayout.LinkedBit;
    private const uint Busy = 1u << EventFifoLayout.BusyBit;

    /// <summary>Xen's bound: with the tail word marked BUSY the guest may change it at most four more ways (mask, unmask, clear pending, unlink).</summary>
    private const int LinkRetries = 4;

    private readonly Domain _domain;
    private readonly MachinePool _pool;
    private readonly FifoVcpuQueues[] _vcpus;
    private readonly Mfn[] _pages = new Mfn[EventFifoLayout.MaxArrayPages];
    private int _pageCount;

    public FifoEvents(Domain domain)
    {
        _domain = domain;
        _pool = domain.Pool;
        _vcpus = new FifoVcpuQueues[domain.Vcpus.Length];
        for (int i = 0; i < _vcpus.Length; i++)
        {
            _vcpus[i] = new FifoVcpuQueues();
        }
    }

    public int PortLimit => EventFifoLayout.NrChannels;

    public bool HasPriorities => true;

    /// <summary>Ports that have an event word: 1024 per event-array page.</summary>
    public int PortCount => _pageCount * EventFifoLayout.WordsPerPage;

    public void InitPort(ref Channel c) => c.Priority = EventFifoLayout.PriorityDefault;

    /// <summary>
    /// evtchn_fifo_set_pending. Without a word yet the raise is remembered in the channel; without a control block
    /// for the vCPU it is dropped (the guest may not unmask a port before that). Otherwise: test-and-set PENDING; if
    /// not MASKED and test-and-set of LINKED was clear, link the port behind the queue's tail (or make it the head of
    /// an empty queue), and for a queue that was empty set its ready bit and mark the vCPU's events pending.
    /// </summary>
    public EventRaise SetPending(Vcpu v, int port, ref Channel c)
    {
        if ((uint)port >= (uint)PortCount)
        {
            c.FifoPending = true;
            return EventRaise.AlreadyPending;
        }

        FifoVcpuQueues q = _vcpus[v.Id];
        if (q.ControlBlock is not { } control)
        {
            return EventRaise.AlreadyPending;
        }

        int priority = c.Priority;
        FifoVcpuQueues oldQ = _vcpus[c.LastQueueVcpu];
        int oldPriority = c.LastQueuePriority;
        ref uint word = ref Word(port);
        bool newlyPending = (Interlocked.Or(ref word, Pending) & Pending) == 0;
        bool linked = true;
        if ((Volatile.Read(ref word) & Masked) == 0 && (Interlocked.Or(ref word, Linked) & Linked) == 0)
        {
            // The port was the old queue's tail and the guest has since taken it off: that queue is empty now, and
            // its stale tail must not be linked to (it may be about to sit on another queue).
            if (oldQ.Tails[oldPriority] == (uint)port)
            {
                oldQ.Tails[oldPriority] = 0;
            }

            c.LastQueueVcpu = v.Id;
            c.LastQueuePriority = (byte)priority;

            // Behind a tail that is still linked; a tail the guest has unlinked means an empty queue: new head.
            linked = false;
            uint tail = q.Tails[priority];
            if (tail != 0)
            {
                linked = SetLink(ref Word((int)tail), (uint)port);
            }

            if (!linked)
            {
                Volatile.Write(ref Head(control, q.Offset, priority), (uint)port);
            }

            q.Tails[priority] = (uint)port;
        }

        if (!linked
            && (Interlocked.Or(ref Ready(control, q.Offset), 1u << priority) & (1u << priority)) == 0
            && VcpuEventFlags.MarkEventsPending(VcpuEventFlags.InfoOf(v)))
        {
            return EventRaise.Upcall;
        }

        return newlyPending ? EventRaise.Pending : EventRaise.AlreadyPending;
    }

    /// <summary>evtchn_fifo_clear_pending: only PENDING; the guest skips and unlinks events that are no longer pending.</summary>
    public void ClearPending(int port, ref Channel c)
    {
        c.FifoPending = false;
        if ((uint)port < (uint)PortCount)
        {
            Interlocked.And(ref Word(port), ~Pending);
        }
    }

    /// <summary>evtchn_fifo_unmask: clear MASKED, and raise the port again if it is pending (to link it now).</summary>
    public bool Unmask(Vcpu notify, int port, ref Channel c)
    {
        if ((uint)port >= (uint)PortCount)
        {
            return false;
        }

        ref uint word = ref Word(port);
        Interlocked.And(ref word, ~Masked);
        return (Volatile.Read(ref word) & Pending) != 0 && SetPending(notify, port, ref c) == EventRaise.Upcall;
    }

    public bool IsPending(int port) => (uint)port < (uint)PortCount && (Volatile.Read(ref Word(port)) & Pending) != 0;

    public bool IsBusy(int port) => (uint)port < (uint)PortCount && (Volatile.Read(ref Word(port)) & Linked) != 0;

    /// <summary>Only future raises move: an event already queued stays on its old queue, as in Xen.</summary>
    public int SetPriority(ref Channel c, uint priority)
    {
        if (priority > EventFifoLayout.PriorityMin)
        {
            return -XenErrno.EINVAL;
        }

        c.Priority = (byte)priority;
        return 0;
    }

    /// <summary>
    /// evtchn_fifo_set_link: set the link field of the tail word iff it is still LINKED. True if linked; false if the
    /// guest had already unlinked it (the queue is empty). After a first failed compare-exchange the word is marked
    /// BUSY, which stops the guest from unmasking it, leaving it only a few legal changes — so a few retries must
    /// succeed. A guest that keeps rewriting the word anyway makes this give up after <see cref="LinkRetries"/>,
    /// reporting the event as linked (it is lost to that guest) rather than loop.
    /// </summary>
    private bool SetLink(ref uint word, uint link)
    {
        uint w = Volatile.Read(ref word);
        int r = TrySetLink(ref word, ref w, link);
        if (r >= 0)
        {
            return r == 1;
        }

        Interlocked.Or(ref word, Busy);
        w = Volatile.Read(ref word);
        for (int i = 0; i < LinkRetries; i++)
        {
            r = TrySetLink(ref word, ref w, link);
            if (r >= 0)
            {
                if (r == 0)
                {
                    Interlocked.And(ref word, ~Busy);
                }

                return r == 1;
            }
        }

        Interlocked.And(ref word, ~Busy);
        _domain.Log.Limited($"d{_domain.Id}-fifo-link", $"(d{_domain.Id}) FIFO event port {link} not linked: the tail's event word kept changing");
        return true;
    }

    /// <summary>1: linked (BUSY cleared with it); 0: the word is not LINKED; -1: it changed under us (<paramref name="w"/> reloaded).</summary>
    private static int TrySetLink(ref uint word, ref uint w, uint link)
    {
        if ((w & Linked) == 0)
        {
            return 0;
        }

        uint old = w;
        w = Interlocked.CompareExchange(ref word, (old & ~(Busy | EventFifoLayout.LinkMask)) | link, old);
        return w == old ? 1 : -1;
    }

    private ref uint Word(int port) =>
        ref MemoryMarshal.Cast<byte, uint>(_pool.Frame(_pages[port / EventFifoLayout.WordsPerPage]))[port % EventFifoLayout.WordsPerPage];

    private ref uint Ready(Mfn control, int offset) => ref ControlWord(control, offset + EventFifoLayout.ControlReady);

    private ref uint Head(Mfn control, int offset, int priority) =>
        ref ControlWord(control, offset + EventFifoLayout.ControlHead + (priority * sizeof(uint)));

    private ref uint ControlWord(Mfn control, int offset) =>
        ref MemoryMarshal.Cast<byte, uint>(_pool.Frame(control).Slice(offset, sizeof(uint)))[0];
}
