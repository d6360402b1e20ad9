using XenSharp.Abi;

namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// A domain's Borrowed Virtual Time parameters (Duda and Cheriton, SOSP 1999; Xen 2.0's bvt_adjdom, set by
/// <c>xm sched-bvt DOM mcuadv warpback warpvalue warpl warpu</c>), with Xen 2.0's defaults.
/// Virtual time is counted in <see cref="Unit"/>ths of Xen's unit so that a share given as xl's <c>cpu_weight</c>
/// keeps its precision: Xen charges <c>mcuadv</c> units per MCU run; here <c>mcuadv × Unit</c>.
/// </summary>
public sealed record BvtParameters : SchedulerParameters
{
    /// <summary>Fine virtual-time units per unit of Xen's.</summary>
    public const long Unit = 1 << 16;

    /// <summary>Xen's default MCU advance (MCU_ADVANCE), the share of a domain nobody set.</summary>
    public const long DefaultMcuAdvance = 10 * Unit;

    /// <summary>xl's default <c>cpu_weight</c>, which maps to <see cref="DefaultMcuAdvance"/>.</summary>
    public const int DefaultWeight = 256;

    /// <summary>The largest <see cref="McuAdvance"/> accepted (xm's mcuadv 65536): slower shares would overflow virtual time.</summary>
    public const long MaxMcuAdvance = 65536 * Unit;

    /// <summary>The largest <see cref="WarpValue"/> accepted (xm's warpvalue 2^31 - 1, Xen's s32).</summary>
    public const long MaxWarpValue = int.MaxValue * Unit;

    /// <summary>The longest warp limit or unwarp requirement accepted: 2^31 - 1 ms, as xm's milliseconds in Xen's s32.</summary>
    public const long MaxWarpTimeNs = int.MaxValue * 1_000_000L;

    /// <summary>
    /// Virtual time charged for each MCU (100 µs) the domain runs, in fine units: the inverse of its weight.
    /// 1..<see cref="MaxMcuAdvance"/>.
    /// </summary>
    public long McuAdvance { get; init; } = DefaultMcuAdvance;

    /// <summary>Whether the domain warps when it wakes (xm's warpback).</summary>
    public bool WarpBack { get; init; }

    /// <summary>How far a warped domain's effective virtual time lies behind its actual one, in fine units (xm's warpvalue × Unit).</summary>
    public long WarpValue { get; init; }

    /// <summary>How long the domain may run warped after a wake-up, ns; 0: no limit (Xen 2.0's default is 2 s).</summary>
    public long WarpLimitNs { get; init; } = 2_000_000_000;

    /// <summary>How long after losing its warp at the limit the domain may not warp again, ns (Xen 2.0's default is 1 s).</summary>
    public long UnwarpRequirementNs { get; init; } = 1_000_000_000;

    /// <summary>The MCU advance of a share given as xl's <c>cpu_weight</c> (1..65535): weight 256 is Xen's default advance.</summary>
    public static long McuAdvanceOfWeight(int weight)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(weight, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(weight, 65535);
        return (DefaultMcuAdvance * DefaultWeight + weight / 2) / weight;
    }

    /// <summary>0 when the parameters are usable, else the negative Xen errno bvt_adjdom would give (-EINVAL).</summary>
    public int Validate()
    {
        bool ok = McuAdvance is > 0 and <= MaxMcuAdvance
            && WarpValue is >= 0 and <= MaxWarpValue
            && WarpLimitNs is >= 0 and <= MaxWarpTimeNs
            && UnwarpRequirementNs is >= 0 and <= MaxWarpTimeNs;
        return ok ? 0 : -XenErrno.EINVAL;
    }
}
