namespace XenSharp.Bench;

/// <summary>One row lmbench-rows printed: its name, how many operations it timed and the time of one.</summary>
public sealed record LmbenchRow(string Name, long Count, double NanosecondsPerOp)
{
    public double Seconds => NanosecondsPerOp * 1e-9;
}
