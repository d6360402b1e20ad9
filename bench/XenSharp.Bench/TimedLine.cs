namespace XenSharp.Bench;

/// <summary>One console line and the <see cref="System.Diagnostics.Stopwatch"/> timestamp of the write that ended it.</summary>
public readonly record struct TimedLine(long Timestamp, string Text);
