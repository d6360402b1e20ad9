namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// BVT's state for one unit (Xen 2.0's bvt_dom_info, per vCPU). Virtual times are in <see cref="BvtParameters.Unit"/>ths
/// of Xen's unit. Invariant: a unit is in at most one of the run queue and a slot, and in neither while asleep.
/// </summary>
internal sealed class BvtUnit
{
    public BvtUnit(SchedUnit unit, long avt)
    {
        Unit = unit;
        Avt = avt;
    }

    public SchedUnit Unit { get; }

    /// <summary>Actual virtual time: advances by the domain's MCU advance for each MCU (or part of one) run.</summary>
    public long Avt { get; set; }

    /// <summary>Running with its warp: its effective virtual time is <see cref="Avt"/> minus the warp value.</summary>
    public bool Warped { get; set; }

    /// <summary>Time run warped since the wake-up that warped it.</summary>
    public long WarpUsedNs { get; set; }

    /// <summary>When it last lost its warp at the warp limit; null if it never did.</summary>
    public long? UnwarpedAtNs { get; set; }

    /// <summary>When it was last given a slot (or last charged, if it kept the slot).</summary>
    public long LastScheduledNs { get; set; }

    public bool Asleep { get; set; } = true;

    public bool Queued { get; set; }

    /// <summary>The slot it runs in, or -1.</summary>
    public int Slot { get; set; } = -1;

    /// <summary>Order of queueing, to break EVT ties first-come first-served.</summary>
    public long Sequence { get; set; }
}
