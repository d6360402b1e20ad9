using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Scheduling;

namespace XenSharp.Hypervisor.Dom0;

/// <summary>
/// Domain 0's domctl: what the toolstack does to whole domains — create (memory populated), build through
/// <see cref="OpenImage"/>, start, request a shutdown, destroy, read a domain's <see cref="DomainInfo"/>, set its
/// memory target, pause and unpause it (XEN_DOMCTL_pausedomain / unpausedomain) and get or set a vCPU's whole context
/// (XEN_DOMCTL_getvcpucontext / setvcpucontext). Domains are named by their id; an id that names no domain, or a vCPU
/// number it does not have, is an <see cref="ArgumentException"/>.
/// Thread-safe: every call takes the locks it needs inside the core and returns with none held.
/// </summary>
public sealed class DomainControl
{
    private readonly XenHypervisor _hv;
    private readonly object _targetsLock = new(); // a leaf: nothing else is taken under it
    private readonly Dictionary<ushort, ulong> _targets = new();

    internal DomainControl(XenHypervisor hypervisor) => _hv = hypervisor;

    /// <summary>Frames the machine pool has free (xc_physinfo's free_pages).</summary>
    public ulong FreePages => _hv.Pool.FreeFrames;

    /// <summary>The ids of every domain that exists (created and not yet destroyed).</summary>
    public IReadOnlyList<ushort> List() => _hv.Domains.Select(d => d.Id).Order().ToArray();

    /// <summary>
    /// Creates a domain with <paramref name="vcpus"/> vCPUs and <paramref name="nrPages"/> pages of memory, all
    /// populated (its maximum and target too), not yet built or running. console_io output goes to
    /// <paramref name="console"/>.
    /// </summary>
    /// <exception cref="OutOfPoolException">The pool has no room for the domain.</exception>
    public ushort Create(string name, int vcpus, ulong nrPages, IConsoleSink console) =>
        _hv.CreateDomain(name, vcpus, nrPages, console).Id;

    /// <summary>The builder's view of a domain that has not started yet (see <see cref="DomainImage"/>).</summary>
    public DomainImage OpenImage(ushort domid) => new(Get(domid));

    /// <summary>Runs the domain's vCPU 0 from the context its builder set.</summary>
    public void Start(ushort domid) => _hv.Start(Get(domid));

    /// <summary>
    /// Asks the domain to end as if it had called SCHEDOP_shutdown with <paramref name="reason"/> (xl shutdown /
    /// reboot). False if it had already ended.
    /// </summary>
    public bool RequestShutdown(ushort domid, ShutdownReason reason) => Get(domid).Shutdown(reason);

    /// <summary>
    /// XEN_DOMCTL_pausedomain: returns once every vCPU of the domain is out of the guest with its state saved. Pauses
    /// nest; each needs its <see cref="Unpause"/>. Not from one of the domain's own vCPUs.
    /// </summary>
    public void Pause(ushort domid) => Get(domid).Pause();

    /// <summary>XEN_DOMCTL_unpausedomain: releases one <see cref="Pause"/>; false if the domain was not paused.</summary>
    public bool Unpause(ushort domid) => Get(domid).Unpause();

    /// <summary>XEN_DOMCTL_getvcpucontext: the vCPU's whole state, read with the domain paused around it (as Xen does).</summary>
    public VcpuContext GetVcpuContext(ushort domid, int vcpu)
    {
        Domain d = Get(domid);
        Vcpu v = VcpuOf(d, vcpu);
        d.Pause();
        try
        {
            return v.GetContext();
        }
        finally
        {
            d.Unpause();
        }
    }

    /// <summary>
    /// XEN_DOMCTL_setvcpucontext: checks <paramref name="context"/> as arch_set_info_guest does and installs it with the
    /// domain paused around it; 0, or a negative Xen errno with nothing changed.
    /// </summary>
    public int SetVcpuContext(ushort domid, int vcpu, VcpuContext context)
    {
        Domain d = Get(domid);
        Vcpu v = VcpuOf(d, vcpu);
        d.Pause();
        try
        {
            return v.SetContext(context);
        }
        finally
        {
            d.Unpause();
        }
    }

    private static Vcpu VcpuOf(Domain d, int vcpu) =>
        vcpu >= 0 && vcpu < d.Vcpus.Length ? d.Vcpus[vcpu] : throw new ArgumentException($"domain {d.Id} has no vCPU {vcpu}", nameof(vcpu));

    /// <summary>Stops the domain's vCPUs and frees its memory. Disconnect its backends first. A gone domain is ignored.</summary>
    public void Destroy(ushort domid)
    {
        if (Find(domid) is { } d)
        {
            _hv.Destroy(d);
        }

        lock (_targetsLock)
        {
            _targets.Remove(domid);
        }
    }

    /// <summary>Completes when the domain has ended (shut down, crashed or destroyed), with the state it ended in.</summary>
    public Task<DomainState> WhenEnded(ushort domid) => Get(domid).Ended;

    public DomainInfo GetInfo(ushort domid)
    {
        Domain d = Get(domid);
        ulong now = _hv.Clock.Now;
        ulong cpu = 0;
        Span<byte> runstate = stackalloc byte[RunstateLayout.Size];
        foreach (Vcpu v in d.Vcpus)
        {
            v.Runstate.WriteTo(runstate, now);
            cpu += BinaryPrimitives.ReadUInt64LittleEndian(runstate[(RunstateLayout.Time + (8 * RunstateLayout.Running))..]);
        }

        ulong target;
        lock (_targetsLock)
        {
            target = _targets.GetValueOrDefault(domid, d.NrPages);
        }

        return new DomainInfo(d.Id, d.Name, d.Handle, d.State, d.ShutdownReason, d.CrashReason, d.Vcpus.Length,
            d.Mmu.CurrentPages, d.MaxPages, target, cpu);
    }

    /// <summary>
    /// Sets the balloon target (what xl mem-set asks; the guest's balloon driver reads it from the store's
    /// memory/target and gives pages back or takes them from its reserve). Refused (false) above the maximum.
    /// </summary>
    public bool SetMemoryTarget(ushort domid, ulong pages)
    {
        Domain d = Get(domid);
        if (pages > d.MaxPages)
        {
            return false;
        }

        lock (_targetsLock)
        {
            _targets[domid] = pages;
        }

        return true;
    }

    /// <summary>
    /// Sets the memory maximum (xl mem-max, XEN_DOMCTL_max_mem): the guest's increase_reservation and populate_physmap
    /// stop there. Refused (false) above the memory it was built with. A target above the new maximum is lowered to it.
    /// </summary>
    public bool SetMemoryMaximum(ushort domid, ulong pages)
    {
        Domain d = Get(domid);
        if (!d.SetMaxPages(pages))
        {
            return false;
        }

        lock (_targetsLock)
        {
            if (_targets.GetValueOrDefault(domid, d.NrPages) > pages)
            {
                _targets[domid] = pages;
            }
        }

        return true;
    }

    /// <summary>The scheduler's name and Xen option name ("Borrowed Virtual Time", "bvt"), or null without a machine.</summary>
    public (string Name, string OptName)? Scheduler =>
        _hv.Scheduling is { } s ? (s.Policy.Name, s.Policy.OptName) : null;

    /// <summary>The physical-CPU slots the scheduler shares between all vCPUs (xl info's nr_cpus), 0 without a machine.</summary>
    public int PhysicalCpus => _hv.PhysicalCpus;

    /// <summary>BVT's context-switch allowance for every domain (xm sched-bvt-ctxallow), ns; null without a scheduler.</summary>
    public long? BvtContextSwitchAllowanceNs =>
        _hv.Scheduling?.Allocator.WithPolicy(p => p is BvtScheduler b ? b.ContextSwitchAllowanceNs : (long?)null);

    /// <summary>
    /// Sets BVT's context-switch allowance (xm sched-bvt-ctxallow; Xen's bvt_ctl): how far a running domain may pass
    /// its fair point before the next one's turn. 0, -EINVAL outside 100 µs .. 2^31 - 1 ms, -ENOSYS without BVT.
    /// </summary>
    public int SetBvtContextSwitchAllowance(long ns) =>
        _hv.Scheduling?.Allocator.WithPolicy(p => p is BvtScheduler b ? b.SetContextSwitchAllowance(ns) : -XenErrno.ENOSYS) ?? -XenErrno.ENOSYS;

    /// <summary>
    /// A domain's scheduling parameters (XEN_DOMCTL_SCHEDOP_getinfo; xm sched-bvt): the defaults for one never set.
    /// Null without a scheduler (a hypervisor built for tests without a machine).
    /// </summary>
    public SchedulerParameters? GetSchedulerParameters(ushort domid)
    {
        Get(domid);
        return _hv.Scheduling?.Allocator.DomainParameters(domid);
    }

    /// <summary>
    /// Sets a domain's scheduling parameters (XEN_DOMCTL_SCHEDOP_putinfo), at creation or while it runs: 0, -EINVAL
    /// for values BVT refuses or another scheduler's record, -ENOSYS without a scheduler.
    /// </summary>
    public int SetSchedulerParameters(ushort domid, SchedulerParameters parameters)
    {
        Get(domid);
        return _hv.Scheduling?.Allocator.AdjustDomain(domid, parameters) ?? -XenErrno.ENOSYS;
    }

    /// <summary>
    /// XEN_DOMCTL_setvcpuaffinity: the physical-CPU slots a vCPU may hold (<paramref name="hard"/>) and its soft
    /// affinity (recorded, shown by <see cref="GetVcpus"/>, without effect under BVT); null leaves every slot. 0,
    /// -EINVAL for an empty set or a slot beyond <see cref="XenHypervisor.PhysicalCpus"/>, -ENOSYS without a scheduler.
    /// A vCPU whose slot is no longer allowed leaves it at its next entry.
    /// </summary>
    public int SetVcpuAffinity(ushort domid, int vcpu, IReadOnlyCollection<int>? hard, IReadOnlyCollection<int>? soft)
    {
        Vcpu v = VcpuOf(Get(domid), vcpu);
        return _hv.Scheduling?.Allocator.SetAffinity(v.SchedUnit, hard?.ToHashSet(), soft?.ToHashSet()) ?? -XenErrno.ENOSYS;
    }

    /// <summary>XEN_DOMCTL_getvcpuinfo for each of the domain's vCPUs (xl vcpu-list, and xl list's r and b flags).</summary>
    public IReadOnlyList<VcpuInfo> GetVcpus(ushort domid)
    {
        Domain d = Get(domid);
        ulong now = _hv.Clock.Now;
        Span<byte> runstate = stackalloc byte[RunstateLayout.Size];
        var result = new List<VcpuInfo>(d.Vcpus.Length);
        foreach (Vcpu v in d.Vcpus)
        {
            v.Runstate.WriteTo(runstate, now);
            ulong running = BinaryPrimitives.ReadUInt64LittleEndian(runstate[(RunstateLayout.Time + (8 * RunstateLayout.Running))..]);
            (int[]? hard, int[]? soft) = _hv.Scheduling?.Allocator.Affinity(v.SchedUnit) ?? (null, null);
            result.Add(new VcpuInfo(v.Id, v.IsUp, v.Runstate.State, v.SchedUnit.Slot, running, hard, soft));
        }

        return result;
    }

    /// <summary>One line per vCPU (up or blocked, the registers of its last exit, events, timers), for a domain that hangs.</summary>
    public IReadOnlyList<string> DescribeVcpus(ushort domid) => Pv.CrashReport.DescribeVcpus(Get(domid)).ToArray();

    internal Domain Get(ushort domid) => Find(domid) ?? throw new ArgumentException($"no domain {domid}", nameof(domid));

    internal Domain? Find(ushort domid) => _hv.Domains.FirstOrDefault(d => d.Id == domid);
}
