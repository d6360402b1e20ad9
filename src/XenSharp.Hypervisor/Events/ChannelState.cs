namespace XenSharp.Hypervisor.Events;

/// <summary>Xen's ECS_* states of one port (xen/include/xen/sched.h).</summary>
internal enum ChannelState : byte
{
    Free,
    Reserved,
    Unbound,
    Interdomain,
    Pirq,
    Virq,
    Ipi,
}
