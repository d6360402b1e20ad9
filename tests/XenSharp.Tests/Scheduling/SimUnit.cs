using XenSharp.Hypervisor.Scheduling;

namespace XenSharp.Tests.Scheduling;

/// <summary>
/// A simulated vCPU: runs bursts of <see cref="BurstNs"/> (forever for a CPU-bound one) and blocks for
/// <see cref="BlockNs"/> between them; the latency from each wake-up to holding a slot is recorded.
/// </summary>
internal sealed class SimUnit
{
    public SimUnit(SchedUnit unit, long burstNs, long blockNs)
    {
        Unit = unit;
        BurstNs = burstNs;
        BlockNs = blockNs;
        BurstLeft = burstNs;
    }

    public SchedUnit Unit { get; }

    public long BurstNs { get; }

    public long BlockNs { get; }

    public bool CpuBound => BurstNs == long.MaxValue;

    public long BurstLeft { get; set; }

    /// <summary>When it wakes from its current block; null when not blocked on its own (or held asleep by the test).</summary>
    public long? WakeAt { get; set; }

    /// <summary>When it last woke, until it holds a slot.</summary>
    public long? WokeAt { get; set; }

    public List<long> WakeLatencies { get; } = new();
}
