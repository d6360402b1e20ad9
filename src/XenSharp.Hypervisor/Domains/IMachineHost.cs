namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// The machine under the hypervisor (KVM today, in Machine/): it says what it can do and builds each domain's machine.
/// The core depends only on this seam, so a second machine backend needs no change above Machine/.
/// </summary>
internal interface IMachineHost : IDisposable
{
    MachineCapabilities Capabilities { get; }

    /// <summary>Builds the machine of a domain its builder prepared (memory slots, one vCPU per Xen vCPU); nothing runs yet.</summary>
    IDomainMachine CreateMachine(XenHypervisor hypervisor, Domain domain);

    /// <summary>A waiter that sleeps until a host-clock deadline more finely than Monitor.Wait, if the host has one.</summary>
    Time.IPreciseWaiter? CreatePreciseWaiter();
}
