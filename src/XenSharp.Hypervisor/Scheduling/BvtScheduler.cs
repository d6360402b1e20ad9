using System.Globalization;
using XenSharp.Abi;

namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// Borrowed Virtual Time (Duda and Cheriton, SOSP 1999) as Xen 1.x/2.0 used it (xen/common/sched_bvt.c), over one
/// run queue shared by every slot. Each unit has an actual virtual time (AVT) that advances, while it runs, by its
/// domain's MCU advance (the inverse of its weight) per minimum charging unit (MCU, 100 µs) or part of one; its
/// effective virtual time (EVT) is the AVT, less the warp value while it is warped. Each slot runs the queued unit
/// of least EVT until its EVT passes the next one's by the context-switch allowance. A unit that wakes has its AVT
/// brought up to the system virtual time (SVT: the least AVT of the runnable units), so blocking saves no credit;
/// if its domain warps, it runs warped from the wake-up until it blocks or has run warped for the warp limit, and
/// after losing its warp at the limit it does not warp again until the unwarp requirement has passed. A woken unit
/// preempts the running unit of greatest EVT at once if its EVT is lower by more than the allowance; otherwise
/// that unit's slice ends when it would be. Hard affinity (<see cref="SchedUnit.MayRunOn"/>) narrows both choices: a
/// slot runs only queued units that may hold it, and a woken unit looks only at the slots it may hold. Work-conserving:
/// a slot is left idle only while no queued unit may hold it.
/// Invariants: single-threaded (the caller's lock: <see cref="SlotAllocator"/>'s); SVT never decreases except
/// by a rebase, which moves every AVT with it.
/// </summary>
internal sealed class BvtScheduler : IScheduler
{
    /// <summary>Minimum charging unit (Xen's MCU).</summary>
    public const long Mcu = 100_000;

    /// <summary>Xen's default context-switch allowance (ctx_allow).</summary>
    public const long DefaultContextSwitchAllowanceNs = 5_000_000;

    private const long RebaseThreshold = 1L << 61;
    private const long RebaseAmount = 1L << 60;

    private readonly Dictionary<int, BvtParameters> _domains = new();
    private readonly List<BvtUnit> _queue = new();
    private readonly HashSet<BvtUnit> _units = new();
    private readonly BvtUnit?[] _running;
    private long _svt;
    private long _sequence;

    public BvtScheduler(int slotCount, long contextSwitchAllowanceNs = DefaultContextSwitchAllowanceNs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slotCount, 1);
        _running = new BvtUnit?[slotCount];
        if (SetContextSwitchAllowance(contextSwitchAllowanceNs) != 0)
            throw new ArgumentOutOfRangeException(nameof(contextSwitchAllowanceNs));
    }

    public string Name => "Borrowed Virtual Time";

    public string OptName => "bvt";

    public int SlotCount => _running.Length;

    /// <summary>How long a unit may run past its fair point before the next one's turn (xm sched-bvt-ctxallow).</summary>
    public long ContextSwitchAllowanceNs { get; private set; }

    /// <summary>The least AVT of the runnable units, as of the last <see cref="DoSchedule"/>.</summary>
    public long SystemVirtualTime => _svt;

    /// <summary>Sets the context-switch allowance (bvt_ctl): 0, or -EINVAL outside 1 MCU .. 2^31 - 1 ms.</summary>
    public int SetContextSwitchAllowance(long ns)
    {
        if (ns < Mcu || ns > BvtParameters.MaxWarpTimeNs)
            return -XenErrno.EINVAL;
        ContextSwitchAllowanceNs = ns;
        return 0;
    }

    // The longest slice: Xen's slice for a unit running alone.
    private long MaxSliceNs => 10 * ContextSwitchAllowanceNs;

    public void InsertUnit(SchedUnit unit, long now)
    {
        if (unit.SchedulerData is not null)
            throw new InvalidOperationException($"{unit} is already in a scheduler");
        var u = new BvtUnit(unit, _svt);
        unit.SchedulerData = u;
        _units.Add(u);
    }

    public void RemoveUnit(SchedUnit unit, long now)
    {
        BvtUnit u = Data(unit);
        if (u.Slot >= 0)
            throw new InvalidOperationException($"{unit} still runs in slot {u.Slot}");
        Dequeue(u);
        _units.Remove(u);
        unit.SchedulerData = null;
    }

    public void Sleep(SchedUnit unit, long now)
    {
        BvtUnit u = Data(unit);
        u.Asleep = true;
        u.Warped = false; // a warp lasts from one wake-up to the next block
        Dequeue(u);
    }

    public WakeDecision Wake(SchedUnit unit, long now)
    {
        BvtUnit u = Data(unit);
        if (!u.Asleep)
            return WakeDecision.None;
        u.Asleep = false;
        if (u.Avt < _svt)
            u.Avt = _svt;
        BvtParameters p = Parameters(u);
        u.Warped = p.WarpBack && (u.UnwarpedAtNs is not { } unwarped || now - unwarped >= p.UnwarpRequirementNs);
        u.WarpUsedNs = 0;
        Enqueue(u);

        int victim = -1;
        long victimEvt = long.MinValue;
        for (int s = 0; s < _running.Length; s++)
        {
            if (!unit.MayRunOn(s))
                continue;
            if (_running[s] is not { } r)
                return WakeDecision.Preempt(s); // an idle slot takes it
            long e = ProjectedEvt(r, now);
            if (e > victimEvt)
                (victim, victimEvt) = (s, e);
        }

        if (victim < 0)
            return WakeDecision.None; // no slot it may hold (an affinity the allocator would have refused)
        long advance = Parameters(_running[victim]!).McuAdvance;
        long allowance = ToVirtual(ContextSwitchAllowanceNs, advance);
        long wokenEvt = Evt(u);
        if (wokenEvt + allowance < victimEvt)
            return WakeDecision.Preempt(victim);
        // Otherwise the running unit keeps the slot until its EVT passes the woken one's by the allowance.
        return WakeDecision.ShortenSlice(victim, SaturatingAdd(now, ToNs(wokenEvt + allowance - victimEvt, advance)));
    }

    public void Yield(SchedUnit unit, long now)
    {
        // As in Xen 2.0: a yield only asks for a new decision, which may pick the same unit if its EVT is still least.
    }

    public TaskSlice DoSchedule(int slot, long now)
    {
        if (_running[slot] is { } prev)
        {
            Charge(prev, now);
            _running[slot] = null;
            prev.Slot = -1;
            if (!prev.Asleep)
                Enqueue(prev);
        }

        UpdateSystemVirtualTime();

        BvtUnit? next = null, second = null;
        foreach (BvtUnit q in _queue)
        {
            if (!q.Unit.MayRunOn(slot))
                continue;
            if (next is null || Before(q, next))
                (second, next) = (next, q);
            else if (second is null || Before(q, second))
                second = q;
        }

        if (next is null)
            return new TaskSlice(null, TaskSlice.Forever);

        Dequeue(next);
        _running[slot] = next;
        next.Slot = slot;
        next.LastScheduledNs = now;

        BvtParameters p = Parameters(next);
        long duration = second is null
            ? MaxSliceNs
            : Math.Min(MaxSliceNs, SaturatingAdd(ToNs(Evt(second) - Evt(next), p.McuAdvance), ContextSwitchAllowanceNs));
        if (next.Warped && p.WarpLimitNs > 0)
            duration = Math.Min(duration, Math.Max(1, p.WarpLimitNs - next.WarpUsedNs));
        return new TaskSlice(next.Unit, duration);
    }

    public int AdjustDomain(int domainId, SchedulerParameters parameters)
    {
        if (parameters is not BvtParameters p)
            return -XenErrno.EINVAL;
        int rc = p.Validate();
        if (rc != 0)
            return rc;
        _domains[domainId] = p;
        if (!p.WarpBack)
        {
            foreach (BvtUnit u in _units.Where(u => u.Unit.DomainId == domainId))
                u.Warped = false;
        }

        return 0;
    }

    public SchedulerParameters DomainParameters(int domainId) =>
        _domains.TryGetValue(domainId, out BvtParameters? p) ? p : Defaults;

    public void RemoveDomain(int domainId) => _domains.Remove(domainId);

    public void DumpSettings(TextWriter output) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"BVT: mcu={Mcu}ns ctx_allow={ContextSwitchAllowanceNs}ns svt={_svt}"));

    public void DumpSlot(int slot, TextWriter output)
    {
        output.WriteLine(_running[slot] is { } r ? $"slot {slot}: {Describe(r)}" : $"slot {slot}: idle");
        foreach (BvtUnit q in _queue.OrderBy(q => q.Sequence))
            output.WriteLine($"  queued {Describe(q)}");
    }

    /// <summary>A unit's actual virtual time, as last charged.</summary>
    public long ActualVirtualTime(SchedUnit unit) => Data(unit).Avt;

    /// <summary>A unit's effective virtual time, as last charged.</summary>
    public long EffectiveVirtualTime(SchedUnit unit) => Evt(Data(unit));

    public bool IsWarped(SchedUnit unit) => Data(unit).Warped;

    private static BvtParameters Defaults { get; } = new();

    private static BvtUnit Data(SchedUnit unit) =>
        unit.SchedulerData as BvtUnit ?? throw new InvalidOperationException($"{unit} is not in a BVT scheduler");

    private BvtParameters Parameters(BvtUnit u) =>
        _domains.TryGetValue(u.Unit.DomainId, out BvtParameters? p) ? p : Defaults;

    private long Evt(BvtUnit u) => u.Warped ? u.Avt - Parameters(u).WarpValue : u.Avt;

    // The EVT a running unit would have if it were charged now.
    private long ProjectedEvt(BvtUnit u, long now)
    {
        BvtParameters p = Parameters(u);
        long ran = Math.Max(0, now - u.LastScheduledNs);
        long avt = u.Avt + Mcus(ran) * p.McuAdvance;
        bool warped = u.Warped && !(p.WarpLimitNs > 0 && u.WarpUsedNs + ran >= p.WarpLimitNs);
        return warped ? avt - p.WarpValue : avt;
    }

    private void Charge(BvtUnit u, long now)
    {
        BvtParameters p = Parameters(u);
        long ran = Math.Max(0, now - u.LastScheduledNs);
        u.Avt += Mcus(ran) * p.McuAdvance;
        if (u.Warped)
        {
            u.WarpUsedNs += ran;
            if (p.WarpLimitNs > 0 && u.WarpUsedNs >= p.WarpLimitNs)
            {
                u.Warped = false;
                u.UnwarpedAtNs = now;
            }
        }

        u.LastScheduledNs = now;
    }

    private void UpdateSystemVirtualTime()
    {
        long min = long.MaxValue;
        foreach (BvtUnit q in _queue)
            min = Math.Min(min, q.Avt);
        foreach (BvtUnit? r in _running)
        {
            if (r is not null)
                min = Math.Min(min, r.Avt);
        }

        if (min != long.MaxValue && min > _svt)
            _svt = min;
        if (_svt >= RebaseThreshold)
        {
            // Xen rebases at 0xf0000000 for its 32-bit virtual times; ours are 64-bit and get here only after ages.
            foreach (BvtUnit u in _units)
                u.Avt -= RebaseAmount;
            _svt -= RebaseAmount;
        }
    }

    // Least EVT first; among equals, first queued first.
    private bool Before(BvtUnit a, BvtUnit b)
    {
        long ea = Evt(a), eb = Evt(b);
        return ea < eb || (ea == eb && a.Sequence < b.Sequence);
    }

    private void Enqueue(BvtUnit u)
    {
        if (u.Queued)
            return;
        u.Queued = true;
        u.Sequence = ++_sequence;
        _queue.Add(u);
    }

    private void Dequeue(BvtUnit u)
    {
        if (!u.Queued)
            return;
        u.Queued = false;
        _queue.Remove(u);
    }

    private static long Mcus(long ns) => ns / Mcu + (ns % Mcu == 0 ? 0 : 1);

    // Virtual time a unit of this advance accrues in ns of running.
    private static long ToVirtual(long ns, long advance) => Mcus(ns) * advance;

    // Running time for a unit of this advance to accrue this much virtual time (at least none).
    private static long ToNs(long virtualTime, long advance)
    {
        if (virtualTime <= 0)
            return 0;
        long mcus = virtualTime / advance + (virtualTime % advance == 0 ? 0 : 1);
        return mcus > long.MaxValue / Mcu ? long.MaxValue : mcus * Mcu;
    }

    private static long SaturatingAdd(long a, long b) => b > long.MaxValue - a ? long.MaxValue : a + b;

    private string Describe(BvtUnit u) => string.Create(
        CultureInfo.InvariantCulture,
        $"{u.Unit} mcuadv={Parameters(u).McuAdvance} avt={u.Avt} evt={Evt(u)}{(u.Warped ? " warped" : "")}");
}
