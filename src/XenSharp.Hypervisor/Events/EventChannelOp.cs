namespace XenSharp.Hypervisor.Events;

/// <summary>
/// event_channel_op commands and argument layouts (xen/include/public/event_channel.h). Offsets are within each
/// command's struct; every field is a little-endian u32 unless noted. (ABI constants: candidates for XenSharp.Abi.)
/// </summary>
internal static class EventChannelOp
{
    public const int BindInterdomain = 0;
    public const int BindVirq = 1;
    public const int BindPirq = 2;
    public const int Close = 3;
    public const int Send = 4;
    public const int Status = 5;
    public const int AllocUnbound = 6;
    public const int BindIpi = 7;
    public const int BindVcpu = 8;
    public const int Unmask = 9;
    public const int Reset = 10;
    public const int InitControl = 11;
    public const int ExpandArray = 12;
    public const int SetPriority = 13;
    public const int ResetCont = 14;

    /// <summary>DOMID_SELF (xen.h).</summary>
    public const ushort DomidSelf = 0x7ff0;

    /// <summary>The domain the host-side backends act as (xenconsoled and friends live in domain 0).</summary>
    public const ushort BackendDomain = 0;

    /// <summary>evtchn_bind_interdomain: remote_dom u16 @0, remote_port @4, OUT local_port @8.</summary>
    public const int BindInterdomainSize = 12;

    /// <summary>evtchn_bind_virq: virq @0, vcpu @4, OUT port @8.</summary>
    public const int BindVirqSize = 12;

    /// <summary>evtchn_bind_pirq: pirq @0, flags @4, OUT port @8.</summary>
    public const int BindPirqSize = 12;

    /// <summary>evtchn_close, evtchn_send, evtchn_unmask: port @0.</summary>
    public const int PortSize = 4;

    /// <summary>evtchn_status: dom u16 @0, port @4, OUT status @8, vcpu @12, union @16 (unbound.dom u16; interdomain.dom u16, .port @20; pirq; virq).</summary>
    public const int StatusSize = 24;

    /// <summary>evtchn_alloc_unbound: dom u16 @0, remote_dom u16 @2, OUT port @4.</summary>
    public const int AllocUnboundSize = 8;

    /// <summary>evtchn_bind_ipi: vcpu @0, OUT port @4.</summary>
    public const int BindIpiSize = 8;

    /// <summary>evtchn_bind_vcpu: port @0, vcpu @4.</summary>
    public const int BindVcpuSize = 8;

    /// <summary>evtchn_reset: dom u16 @0.</summary>
    public const int ResetSize = 2;

    /// <summary>evtchn_init_control: control_gfn u64 @0, offset @8, vcpu @12, OUT link_bits u8 @16, 7 bytes of padding.</summary>
    public const int InitControlSize = 24;
    public const int InitControlLinkBits = 16;

    /// <summary>evtchn_expand_array: array_gfn u64 @0.</summary>
    public const int ExpandArraySize = 8;

    /// <summary>evtchn_set_priority: port @0, priority @4.</summary>
    public const int SetPrioritySize = 8;

    /// <summary>struct evtchn_op for the compat hypercall 16: cmd u32 @0, then the union (4-byte aligned) @4; 28 bytes.</summary>
    public const int CompatOpSize = 28;
    public const int CompatUnionOffset = 4;
}
