using System.Runtime.InteropServices;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Events;

/// <summary>
/// The 2-level event-channel ABI on guest-shared memory (Xen's event_2l.c), every domain's ABI until it calls
/// EVTCHNOP_init_control: evtchn_pending and evtchn_mask bitmaps in shared_info (64 words of 64 bits, 4096 ports) and
/// per-vCPU evtchn_pending_sel and evtchn_upcall_pending in vcpu_info. The guest changes these bits concurrently from
/// its own vCPUs (lock btr/bts, xchg), so every read-modify-write here is an interlocked operation on the shared word,
/// and the steps run in Xen's strict order. A vCPU without a vcpu_info (vCPU 32 and up) only gets the shared_info
/// bits, like Xen's dummy vcpu_info. Ports at or above 4096 (valid only after a FIFO domain went back to 2-level)
/// have no bits: never pending, nothing to raise.
/// </summary>
internal sealed class TwoLevelEvents : IEventAbi
{
    public const int BitsPerWord = 64;
    public const int MaxPorts = BitsPerWord * BitsPerWord;

    private readonly Domain _domain;

    public TwoLevelEvents(Domain domain) => _domain = domain;

    public int PortLimit => MaxPorts;

    public bool HasPriorities => false;

    public void InitPort(ref Channel c)
    {
    }

    /// <summary>
    /// evtchn_2l_set_pending: test-and-set the pending bit (already set: stop); if the port is not masked, test-and-set
    /// the selector bit port/64 in the vCPU's pending_sel and, if it was clear, mark the vCPU's events pending.
    /// </summary>
    public EventRaise SetPending(Vcpu v, int port, ref Channel c)
    {
        if ((uint)port >= MaxPorts)
        {
            return EventRaise.AlreadyPending;
        }

        Span<byte> sharedInfo = _domain.SharedInfoPage;
        Span<byte> vcpuInfo = VcpuEventFlags.InfoOf(v);
        ulong bit = Bit(port);
        if ((Interlocked.Or(ref PendingWord(sharedInfo, port), bit) & bit) != 0)
        {
            return EventRaise.AlreadyPending;
        }

        if ((Volatile.Read(ref MaskWord(sharedInfo, port)) & bit) == 0 && SetSelector(vcpuInfo, port) && VcpuEventFlags.MarkEventsPending(vcpuInfo))
        {
            return EventRaise.Upcall;
        }

        return EventRaise.Pending;
    }

    /// <summary>
    /// evtchn_2l_unmask: test-and-clear the mask bit; if it was set, the port is pending and the selector bit was clear,
    /// mark the vCPU's events pending. Returns whether upcall_pending went from 0 to 1 (the vCPU must be kicked).
    /// </summary>
    public bool Unmask(Vcpu notify, int port, ref Channel c)
    {
        if ((uint)port >= MaxPorts)
        {
            return false;
        }

        Span<byte> sharedInfo = _domain.SharedInfoPage;
        Span<byte> vcpuInfo = VcpuEventFlags.InfoOf(notify);
        ulong bit = Bit(port);
        return (Interlocked.And(ref MaskWord(sharedInfo, port), ~bit) & bit) != 0
            && (Volatile.Read(ref PendingWord(sharedInfo, port)) & bit) != 0
            && SetSelector(vcpuInfo, port)
            && VcpuEventFlags.MarkEventsPending(vcpuInfo);
    }

    public void ClearPending(int port, ref Channel c)
    {
        if ((uint)port < MaxPorts)
        {
            Interlocked.And(ref PendingWord(_domain.SharedInfoPage, port), ~Bit(port));
        }
    }

    public bool IsPending(int port) => (uint)port < MaxPorts && IsPendingIn(_domain.SharedInfoPage, port);

    public bool IsBusy(int port) => false;

    public int SetPriority(ref Channel c, uint priority) => -XenErrno.ENOSYS;

    /// <summary>The pending bit of a port below <see cref="MaxPorts"/> in a shared_info page (also read when switching to FIFO).</summary>
    public static bool IsPendingIn(Span<byte> sharedInfo, int port) => (Volatile.Read(ref PendingWord(sharedInfo, port)) & Bit(port)) != 0;

    /// <summary>Test-and-set of selector bit port/64; true if it was clear. No vcpu_info: nothing to mark.</summary>
    private static bool SetSelector(Span<byte> vcpuInfo, int port)
    {
        if (vcpuInfo.IsEmpty)
        {
            return false;
        }

        ulong sel = 1UL << (port / BitsPerWord);
        return (Interlocked.Or(ref Word(vcpuInfo, SharedInfoLayout.PendingSel), sel) & sel) == 0;
    }

    private static ulong Bit(int port) => 1UL << (port % BitsPerWord);

    private static ref ulong PendingWord(Span<byte> sharedInfo, int port) =>
        ref Word(sharedInfo, SharedInfoLayout.EvtchnPending + (port / BitsPerWord * sizeof(ulong)));

    private static ref ulong MaskWord(Span<byte> sharedInfo, int port) =>
        ref Word(sharedInfo, SharedInfoLayout.EvtchnMask + (port / BitsPerWord * sizeof(ulong)));

    private static ref ulong Word(Span<byte> page, int offset) =>
        ref MemoryMarshal.Cast<byte, ulong>(page.Slice(offset, sizeof(ulong)))[0];
}
