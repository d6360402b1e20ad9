namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// One schedulable unit (Xen's sched_unit): a vCPU, named by its domain and vCPU id, as the scheduler and the slot
/// allocator see it. Invariant: every field but the ids is read and written only under the lock of the
/// <see cref="SlotAllocator"/> the unit was added to (or, without one, by the single thread driving the scheduler).
/// <see cref="SchedulerData"/> belongs to the scheduler (Xen's unit->priv).
/// </summary>
internal sealed class SchedUnit
{
    private readonly long[] _time = new long[4];

    public SchedUnit(int domainId, int vcpuId)
    {
        DomainId = domainId;
        VcpuId = vcpuId;
    }

    public int DomainId { get; }

    public int VcpuId { get; }

    /// <summary>The scheduler's own state for this unit.</summary>
    internal object? SchedulerData { get; set; }

    private volatile RunState _state = RunState.Offline;
    private volatile bool _preemptPending;

    /// <summary>Written under the allocator's lock; volatile so that a wake-up may read it first as an unlocked hint.</summary>
    internal RunState State => _state;

    internal long StateEntryNs { get; private set; }

    /// <summary>The slot this unit holds while <see cref="RunState.Running"/>, else -1.</summary>
    internal int Slot { get; set; } = -1;

    /// <summary>
    /// Told to give its slot up; it still holds it until its thread comes back. Volatile: the unit's thread reads it
    /// after entering the guest (and its full barrier) to catch a preemption whose kick found it outside.
    /// </summary>
    internal bool PreemptPending
    {
        get => _preemptPending;
        set => _preemptPending = value;
    }

    internal bool Removed { get; set; }

    /// <summary>The slots the unit may hold (Xen's hard affinity); null: every slot. Set through <see cref="SlotAllocator.SetAffinity"/>.</summary>
    internal IReadOnlySet<int>? HardAffinity { get; set; }

    /// <summary>Xen's soft affinity, recorded for Domain 0 to read back; BVT has no preference to give it, so it has no effect.</summary>
    internal IReadOnlySet<int>? SoftAffinity { get; set; }

    /// <summary>Whether the unit's hard affinity lets it hold <paramref name="slot"/>.</summary>
    internal bool MayRunOn(int slot) => HardAffinity is null || HardAffinity.Contains(slot);

    internal void Enter(RunState state, long now)
    {
        _time[(int)State] += Math.Max(0, now - StateEntryNs);
        _state = state;
        StateEntryNs = now;
    }

    internal void StartAccounting(long now) => StateEntryNs = now;

    internal UnitRunstate Runstate(long now)
    {
        long[] t = (long[])_time.Clone();
        t[(int)State] += Math.Max(0, now - StateEntryNs);
        return new UnitRunstate(State, StateEntryNs, t[0], t[1], t[2], t[3]);
    }

    public override string ToString() => $"d{DomainId}v{VcpuId}";
}
