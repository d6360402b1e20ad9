using System.Collections.Concurrent;
using XenSharp.Hypervisor.Scheduling;

namespace XenSharp.Tests.Scheduling;

/// <summary>Stands in for the run loop's kick: records each unit told to give its slot up, from any thread.</summary>
internal sealed class RecordingPreemptSink : IPreemptSink
{
    public BlockingCollection<SchedUnit> Kicked { get; } = new();

    public void Preempt(SchedUnit unit) => Kicked.Add(unit);
}
