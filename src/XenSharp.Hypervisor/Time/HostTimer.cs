namespace XenSharp.Hypervisor.Time;

/// <summary>
/// One re-armable timer of a <see cref="TimerQueue"/>: created once per use (a vCPU's single-shot, periodic and poll
/// timers), armed and cancelled many times without allocating. Its fields belong to the queue's lock.
/// </summary>
internal sealed class HostTimer
{
    public HostTimer(Action fire, string name)
    {
        Fire = fire;
        Name = name;
    }

    /// <summary>Runs on the queue's thread, with no lock held. Must not block for long: every timer waits behind it.</summary>
    internal Action Fire { get; }

    public string Name { get; }

    /// <summary>Host-clock nanoseconds; meaningful while <see cref="Armed"/>.</summary>
    internal long Deadline { get; set; }

    /// <summary>Bumped on every arm and cancel, so stale heap entries (lazy deletion) are recognised and dropped.</summary>
    internal long Generation { get; set; }

    internal bool Armed { get; set; }
}
