namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// Delivers preemption: the unit holding a slot must give it up. The run loop implements it as a kick (out of
/// KVM_RUN), after which the unit's thread calls <see cref="SlotAllocator.EnterRun"/> again and hands the slot over.
/// Called with no scheduler lock held, from whichever thread decided (a waker, the slice timer).
/// </summary>
internal interface IPreemptSink
{
    void Preempt(SchedUnit unit);
}
