namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// A unit's runstate at one moment: its state, when it entered it, and the nanoseconds spent in each state so far
/// (the current one counted up to the moment read). <see cref="RunnableNs"/> is time spent waiting for a slot,
/// which the run loop reports as RUNSTATE_runnable.
/// </summary>
internal readonly record struct UnitRunstate(
    RunState State,
    long StateEntryNs,
    long RunningNs,
    long RunnableNs,
    long BlockedNs,
    long OfflineNs);
