using System.Runtime.InteropServices;
using XenSharp.Abi;

namespace XenSharp.Hypervisor.Events;

/// <summary>
/// The 2-level event-channel ABI on guest-shared memory (Xen's event_2l.c): evtchn_pending and evtchn_mask bitmaps in
/// shared_info (64 words of 64 bits, 4096 ports) and per-vCPU evtchn_pending_sel and evtchn_upcall_pending in
/// vcpu_info. The guest changes these bits concurrently from its own vCPUs (lock btr/bts, xchg), so every
/// read-modify-write here is an interlocked operation on the shared word, and the steps run in Xen's strict order.
/// A vCPU without a vcpu_info (an empty span: vCPU 32 and up before VCPUOP_register_vcpu_info) only gets the
/// shared_info bits, like Xen's dummy vcpu_info.
/// </summary>
public static class TwoLevelEvents
{
    public const int BitsPerWord = 64;
    public const int MaxPorts = BitsPerWord * BitsPerWord;

    /// <summary>
    /// evtchn_2l_set_pending: test-and-set the pending bit (already set: stop); if the port is not masked, test-and-set
    /// the selector bit port/64 in the vCPU's pending_sel and, if it was clear, mark the vCPU's events pending.
    /// </summary>
    public static EventRaise SetPending(Span<byte> sharedInfo, Span<byte> vcpuInfo, int port)
    {
        ulong bit = 1UL << (port % BitsPerWord);
        if ((Interlocked.Or(ref PendingWord(sharedInfo, port), bit) & bit) != 0)
        {
            return EventRaise.AlreadyPending;
        }

        if ((Volatile.Read(ref MaskWord(sharedInfo, port)) & bit) == 0 && SetSelector(vcpuInfo, port) && MarkEventsPending(vcpuInfo))
        {
            return EventRaise.Upcall;
        }

        return EventRaise.Pending;
    }

    /// <summary>
    /// evtchn_2l_unmask: test-and-clear the mask bit; if it was set, the port is pending and the selector bit was clear,
    /// mark the vCPU's events pending. Returns whether upcall_pending went from 0 to 1 (the vCPU must be kicked).
    /// </summary>
    public static bool Unmask(Span<byte> sharedInfo, Span<byte> vcpuInfo, int port)
    {
        ulong bit = 1UL << (port % BitsPerWord);
        return (Interlocked.And(ref MaskWord(sharedInfo, port), ~bit) & bit) != 0
            && (Volatile.Read(ref PendingWord(sharedInfo, port)) & bit) != 0
            && SetSelector(vcpuInfo, port)
            && MarkEventsPending(vcpuInfo);
    }

    public static void ClearPending(Span<byte> sharedInfo, int port) =>
        Interlocked.And(ref PendingWord(sharedInfo, port), ~(1UL << (port % BitsPerWord)));

    public static bool IsPending(Span<byte> sharedInfo, int port) =>
        (Volatile.Read(ref PendingWord(sharedInfo, port)) & (1UL << (port % BitsPerWord))) != 0;

    public static bool IsMasked(Span<byte> sharedInfo, int port) =>
        (Volatile.Read(ref MaskWord(sharedInfo, port)) & (1UL << (port % BitsPerWord))) != 0;

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

    /// <summary>vcpu_mark_events_pending: test-and-set bit 0 of evtchn_upcall_pending; true if it was clear.</summary>
    private static bool MarkEventsPending(Span<byte> vcpuInfo)
    {
        ref byte pending = ref vcpuInfo[SharedInfoLayout.UpcallPending];
        byte old;
        do
        {
            old = Volatile.Read(ref pending);
            if ((old & 1) != 0)
            {
                return false;
            }
        }
        while (Interlocked.CompareExchange(ref pending, (byte)(old | 1), old) != old);

        return true;
    }

    private static ref ulong PendingWord(Span<byte> sharedInfo, int port) =>
        ref Word(sharedInfo, SharedInfoLayout.EvtchnPending + (port / BitsPerWord * sizeof(ulong)));

    private static ref ulong MaskWord(Span<byte> sharedInfo, int port) =>
        ref Word(sharedInfo, SharedInfoLayout.EvtchnMask + (port / BitsPerWord * sizeof(ulong)));

    private static ref ulong Word(Span<byte> page, int offset) =>
        ref MemoryMarshal.Cast<byte, ulong>(page.Slice(offset, sizeof(ulong)))[0];
}
