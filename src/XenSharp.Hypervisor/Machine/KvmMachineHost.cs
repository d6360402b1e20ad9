using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Logging;
using XenSharp.Hypervisor.Pv.Policy;
using XenSharp.Hypervisor.Time;
using XenSharp.Kvm;

namespace XenSharp.Hypervisor.Machine;

/// <summary>
/// KVM as the hypervisor's machine: the open /dev/kvm, its capabilities (which kind of KVM decides them), and each
/// domain's <see cref="DomainMachine"/>. The only place the core's seam (<see cref="IMachineHost"/>) meets KVM.
/// </summary>
internal sealed class KvmMachineHost(KvmSystem kvm) : IMachineHost
{
    public MachineCapabilities Capabilities { get; } = new(KindName(kvm.Kind), RingThreeFaultsInM2pSlot: kvm.Kind == KvmKind.Pvm);

    public IDomainMachine CreateMachine(XenHypervisor hypervisor, Domain domain) => new DomainMachine(hypervisor, domain, kvm);

    public IPreciseWaiter? CreatePreciseWaiter() => TimerfdWaiter.TryCreate();

    public void Dispose() => kvm.Dispose();

    /// <summary>Opens the KVM device and a pool of <paramref name="poolBytes"/> (sparse: untouched frames cost nothing).</summary>
    public static XenHypervisor CreateHypervisor(string device, ulong poolBytes, HypervisorLog log, int? pcpus = null)
    {
        KvmSystem kvm = KvmSystem.Open(device);
        MachineMemory memory;
        try
        {
            memory = MachineMemory.Create(poolBytes);
        }
        catch
        {
            kvm.Dispose();
            throw;
        }

        PvCpuidPolicy.InstallHost(HostLeaves(CpuidPolicy.Supported(kvm)), 0);
        return new XenHypervisor(new KvmMachineMemory(memory), log, new KvmMachineHost(kvm), memory, pcpus: pcpus);
    }

    /// <summary>KVM's CPUID entries as the core's machine-neutral leaves.</summary>
    public static IReadOnlyList<HostCpuidLeaf> HostLeaves(IReadOnlyList<CpuidEntry> entries) =>
        entries.Select(e => new HostCpuidLeaf(e.Function, e.Index, e.Flags, e.Eax, e.Ebx, e.Ecx, e.Edx)).ToArray();

    private static string KindName(KvmKind kind) => kind switch
    {
        KvmKind.Intel => "kvm_intel",
        KvmKind.Amd => "kvm_amd",
        KvmKind.Pvm => "kvm_pvm",
        _ => "kvm",
    };
}
