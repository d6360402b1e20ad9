using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Pv;

/// <summary>
/// Xen's test_guest_events, run on every return to the guest after the host handled an exit: if an event is pending
/// and events are not masked, bounce to the guest's event callback with events masked.
/// </summary>
internal static class EventUpcall
{
    public static void DeliverIfPending(Vcpu v)
    {
        Span<byte> info = v.VcpuInfo;
        if (info[SharedInfoLayout.UpcallPending] == 0 || info[SharedInfoLayout.UpcallMask] != 0 || v.EventCallback == 0)
        {
            return;
        }

        TrapBounce.Bounce(v, v.EventCallback, maskEvents: true, errorCode: null, "event upcall");
    }
}
