using XenSharp.Abi;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Events;

/// <summary>
/// One vCPU's side of the FIFO ABI: where its control block is (null until EVTCHNOP_init_control for this vCPU), and
/// the tail port of each of its 16 queues. The heads live in the guest's control block; the tails only here, so the
/// hypervisor never follows a link the guest wrote. 0 means empty (port 0 is never raised). Guarded by the table lock.
/// </summary>
internal sealed class FifoVcpuQueues
{
    public Mfn? ControlBlock { get; set; }

    /// <summary>Byte offset of the control block in its frame: 8-aligned, the whole block inside the page.</summary>
    public int Offset { get; set; }

    public uint[] Tails { get; } = new uint[EventFifoLayout.Queues];
}
