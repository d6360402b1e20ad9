namespace XenSharp.Hypervisor.Events;

/// <summary>Xen's enum virq_type: who a VIRQ belongs to.</summary>
internal enum VirqScope
{
    Global,
    Domain,
    Vcpu,
}
