using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Logging;
using XenSharp.Hypervisor.Machine;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Stub;
using XenSharp.Hypervisor.Time;

namespace XenSharp.Hypervisor;

/// <summary>
/// One hypervisor: the machine pool, the shared stub pages and the domains. Domains are created (memory only), built
/// by the toolstack, then started on KVM. Locking: <see cref="_lock"/> guards the domain registry; each domain guards
/// its own state.
/// </summary>
public sealed class XenHypervisor : IDisposable
{
    private readonly object _lock = new();
    private readonly Dictionary<ushort, Domain> _domains = new();
    private readonly Dictionary<ushort, IDomainMachine> _machines = new();
    private readonly IMachineHost? _machine;
    private readonly IDisposable? _memoryOwner;
    private ushort _nextDomid = 1;

    /// <param name="clock">The host clock for system time and timers (a fake one in unit tests).</param>
    /// <param name="timerThread">false: timers fire only when a test calls <see cref="TimerQueue.RunDue"/>.</param>
    /// <param name="pcpus">Physical-CPU slots the scheduler gives out (default: the host's cores). Without a machine there is no
    /// scheduler unless this is given (unit tests of the Domain 0 interface).</param>
    internal XenHypervisor(IMachineMemory memory, HypervisorLog log, IMachineHost? machine = null, IDisposable? memoryOwner = null,
        IHostClock? clock = null, bool timerThread = true, int? pcpus = null)
    {
        Log = log;
        Clock = new SystemClock(clock ?? HostClock.Instance);
        Timers = new TimerQueue(Clock.Host, log, timerThread, machine is null ? null : machine.CreatePreciseWaiter);
        _machine = machine;
        _memoryOwner = memoryOwner;
        Pool = new MachinePool(memory);
        Shared = HypervisorPages.Create(Pool, StubImage.Emit());
        Scheduling = machine is null && pcpus is null ? null : new Scheduling.VcpuScheduling(pcpus ?? Hypervisor.Scheduling.SlotAllocator.DefaultSlotCount, Clock.Host);
        Control = new Dom0.DomainControl(this);
        ForeignMemory = new Dom0.ForeignMemory(Control);
        HostEvents = new Dom0.HostEventChannels(Control);
        HostGrants = new Dom0.HostGrants(Control);
    }

    /// <summary>Domain 0's grant device: backends map guests' grants.</summary>
    public Dom0.HostGrants HostGrants { get; }

    /// <summary>Domain 0's domctl: create, build, start, shut down, destroy and inspect domains.</summary>
    public Dom0.DomainControl Control { get; }

    /// <summary>Domain 0's foreign mappings of guest frames (the console and store rings).</summary>
    public Dom0.ForeignMemory ForeignMemory { get; }

    /// <summary>Domain 0's event-channel device: backends bind guests' ports.</summary>
    public Dom0.HostEventChannels HostEvents { get; }

    /// <summary>The Xen interface version guests are told (XENVER_version), as "major.minor".</summary>
    public static string XenInterfaceVersion => $"{Hypercalls.XenVersionHypercall.Major}.{Hypercalls.XenVersionHypercall.Minor}";

    /// <summary>The frames of a pool of <paramref name="poolFrames"/> that the M2P table takes (the rest is for domains).</summary>
    public static ulong M2pFramesFor(ulong poolFrames) => MachinePool.M2pFramesFor(poolFrames);

    /// <summary>The KVM device; $XENSHARP_KVM_DEVICE overrides it (tests use it to check the error for a missing device).</summary>
    public static string KvmDevice => Environment.GetEnvironmentVariable("XENSHARP_KVM_DEVICE") is { Length: > 0 } d ? d : "/dev/kvm";

    /// <summary>
    /// Opens the KVM device and a pool of <paramref name="poolBytes"/> (sparse: untouched frames cost nothing); the
    /// scheduler shares <paramref name="pcpus"/> physical-CPU slots between every domain's vCPUs (default: the host's cores).
    /// </summary>
    public static XenHypervisor CreateOnKvm(ulong poolBytes, HypervisorLog log, int? pcpus = null) =>
        KvmMachineHost.CreateHypervisor(KvmDevice, poolBytes, log, pcpus);

    /// <summary>
    /// A hypervisor with a pool of <paramref name="poolBytes"/> (sparse, as on KVM) and no machine under it: domains can
    /// be built but never run. `xensharp daemon` on a host without KVM serves its store with one (docs/toolstack.md).
    /// </summary>
    public static XenHypervisor CreateWithoutMachine(ulong poolBytes, HypervisorLog log, int? pcpus = null)
    {
        Kvm.MachineMemory memory = Kvm.MachineMemory.Create(poolBytes);
        return new XenHypervisor(new KvmMachineMemory(memory), log, machine: null, memory, pcpus: pcpus ?? Hypervisor.Scheduling.SlotAllocator.DefaultSlotCount);
    }

    /// <summary>The physical-CPU slots the scheduler gives out (0 without a machine).</summary>
    public int PhysicalCpus => Scheduling?.SlotCount ?? 0;

    /// <summary>The CPU scheduler (BVT over physical-CPU slots); null for a hypervisor without a machine (unit tests).</summary>
    internal Scheduling.VcpuScheduling? Scheduling { get; }

    internal MachinePool Pool { get; }

    internal HypervisorPages Shared { get; }

    public HypervisorLog Log { get; }

    /// <summary>Xen system time (ns since this hypervisor started) and the wall clock at its start.</summary>
    internal SystemClock Clock { get; }

    /// <summary>Every domain's timers, on one host thread.</summary>
    internal TimerQueue Timers { get; }

    /// <summary>What the machine under this hypervisor can do (<see cref="MachineCapabilities.None"/> without one).</summary>
    internal MachineCapabilities Capabilities => _machine?.Capabilities ?? MachineCapabilities.None;

    /// <summary>
    /// Where guests find the read-only M2P. Xen's ABI puts it at 0xffff800000000000 (L4 slot 256) and every guest L4
    /// maps it there; but kvm_pvm faults ring-3 reads in slot 256 (reserved-bit #PF, tools/probes/user-read-slot.c),
    /// so there XENMEM_machphys_mapping reports the alias XenSharp also maps in slot 257.
    /// </summary>
    internal ulong M2pVirtualStart => Capabilities.RingThreeFaultsInM2pSlot ? Stub.DomainStubPages.M2pAliasStart : Abi.XenVirtualLayout.MachToPhysStart;

    internal IReadOnlyCollection<Domain> Domains
    {
        get
        {
            lock (_lock)
            {
                return _domains.Values.ToArray();
            }
        }
    }

    /// <summary>Whether domains created from now on count their exits (<see cref="Domain.Exits"/>), logged when each is destroyed.</summary>
    public bool CountExits { get; set; }

    internal Domain CreateDomain(string name, int vcpus, ulong nrPages, IConsoleSink console)
    {
        ushort id;
        lock (_lock)
        {
            id = _nextDomid++;
        }

        var d = new Domain(this, id, name, vcpus, nrPages, console);
        lock (_lock)
        {
            _domains[id] = d;
        }

        return d;
    }

    /// <summary>Creates the domain's KVM machine and runs vCPU 0 from the context the builder prepared.</summary>
    internal void Start(Domain domain)
    {
        if (_machine is null)
        {
            throw new InvalidOperationException("this hypervisor has no KVM machine (created for tests)");
        }

        IDomainMachine m = _machine.CreateMachine(this, domain);
        lock (_lock)
        {
            _machines[domain.Id] = m;
        }

        domain.MarkRunning();
        domain.Exits?.Restart();
        m.Start();
    }

    /// <summary>Stops the domain's vCPUs, waits for their threads, frees its machine and every frame.</summary>
    internal void Destroy(Domain domain)
    {
        IDomainMachine? m;
        lock (_lock)
        {
            _machines.Remove(domain.Id, out m);
            _domains.Remove(domain.Id);
        }

        m?.Dispose();
        Scheduling?.Allocator.RemoveDomain(domain.Id);
        if (domain.Exits is { } exits)
        {
            Log.Domain(domain.Id, exits.Summary()); // the vCPUs have stopped: the counts are final
        }

        domain.Dispose();
    }

    public void Dispose()
    {
        foreach (Domain d in Domains)
        {
            Destroy(d);
        }

        Timers.Dispose();
        Scheduling?.Dispose();
        _machine?.Dispose();
        _memoryOwner?.Dispose();
    }
}
