using System.Diagnostics;

namespace XenSharp.Hypervisor.Time;

/// <summary>The process's monotonic clock (Stopwatch: CLOCK_MONOTONIC on Linux).</summary>
internal sealed class HostClock : IHostClock
{
    public static HostClock Instance { get; } = new();

    private static readonly double NanosecondsPerTick = 1e9 / Stopwatch.Frequency;

    private HostClock()
    {
    }

    public long NowNanoseconds => Stopwatch.Frequency == 1_000_000_000
        ? Stopwatch.GetTimestamp()
        : (long)(Stopwatch.GetTimestamp() * NanosecondsPerTick);
}
