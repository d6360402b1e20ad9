namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// What a wake-up asks of the slots: nothing (<see cref="Slot"/> -1), to preempt the unit in <see cref="Slot"/>
/// now, or to end its slice no later than <see cref="DeadlineNs"/>.
/// </summary>
internal readonly record struct WakeDecision(int Slot, bool PreemptNow, long DeadlineNs)
{
    public static WakeDecision None => new(-1, false, long.MaxValue);

    public static WakeDecision Preempt(int slot) => new(slot, true, long.MinValue);

    public static WakeDecision ShortenSlice(int slot, long deadlineNs) => new(slot, false, deadlineNs);
}
