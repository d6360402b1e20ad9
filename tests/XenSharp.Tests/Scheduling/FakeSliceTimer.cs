using XenSharp.Hypervisor.Scheduling;

namespace XenSharp.Tests.Scheduling;

/// <summary>A slice timer that only records deadlines; the test decides when they pass.</summary>
internal sealed class FakeSliceTimer : ISliceTimer
{
    private readonly long[] _deadline;

    public FakeSliceTimer(int slots)
    {
        _deadline = new long[slots];
        Array.Fill(_deadline, long.MaxValue);
    }

    public int Slots => _deadline.Length;

    public long Deadline(int slot) => _deadline[slot];

    public long Earliest => _deadline.Min();

    public void Arm(int slot, long deadlineNs) => _deadline[slot] = deadlineNs;

    public void Cancel(int slot) => _deadline[slot] = long.MaxValue;
}
