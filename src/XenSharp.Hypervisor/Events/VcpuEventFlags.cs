using System.Runtime.InteropServices;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Events;

/// <summary>The per-vCPU flag both event ABIs raise: evtchn_upcall_pending in the vCPU's vcpu_info.</summary>
internal static class VcpuEventFlags
{
    /// <summary>The vCPU's vcpu_info, or an empty span for vCPU 32 and up (no vcpu_info before VCPUOP_register_vcpu_info).</summary>
    public static Span<byte> InfoOf(Vcpu v) => v.VcpuInfo;

    /// <summary>
    /// Xen's vcpu_mark_events_pending: test-and-set bit 0 of evtchn_upcall_pending; true if it was clear. Like x86's
    /// `lock bts`, one atomic OR on the aligned 32-bit word that starts with the flag (the other bits are ORed with 0),
    /// so it finishes in one step whatever the guest writes meanwhile.
    /// </summary>
    public static bool MarkEventsPending(Span<byte> vcpuInfo)
    {
        if (vcpuInfo.IsEmpty)
        {
            return false;
        }

        ref uint word = ref MemoryMarshal.Cast<byte, uint>(vcpuInfo.Slice(SharedInfoLayout.UpcallPending, sizeof(uint)))[0];
        return (Interlocked.Or(ref word, 1u) & 1u) == 0;
    }
}
