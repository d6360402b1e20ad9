using System.Diagnostics;

namespace XenSharp.Bench;

/// <summary>Stopwatch timestamps to seconds.</summary>
public static class Clock
{
    public static long Now => Stopwatch.GetTimestamp();

    public static double Seconds(long from, long to) => (double)(to - from) / Stopwatch.Frequency;
}
