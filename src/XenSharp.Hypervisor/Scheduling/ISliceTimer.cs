namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// Ends slices: one timer per slot. <see cref="SlotAllocator"/> arms and cancels it while holding its lock (so an
/// implementation's own lock comes after the allocator's); when a deadline passes, the implementation calls
/// <see cref="SlotAllocator.SliceTimerFired"/> holding no lock of its own. A late or spurious call is harmless.
/// </summary>
internal interface ISliceTimer
{
    void Arm(int slot, long deadlineNs);

    void Cancel(int slot);
}
