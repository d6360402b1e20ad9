using System.Collections.Concurrent;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Time;

namespace XenSharp.Hypervisor.Scheduling;

/// <summary>
/// The hypervisor's CPU scheduler as the run loop uses it (the generic half of Xen's schedule.c): one
/// <see cref="SlotAllocator"/> over a fixed number of physical-CPU slots, with <see cref="BvtScheduler"/> as the policy,
/// a <see cref="ThreadSliceTimer"/> ending slices, and preemption delivered as a kick. Each vCPU is one unit from its
/// thread's start to its end; its thread asks for a slot before every KVM_RUN and gives it up when it blocks, is
/// paused or goes down (<see cref="Vcpu.WaitForSlot"/>, <see cref="Vcpu.BeginBlock"/>, <see cref="Vcpu.WaitOutOfGuest"/>).
/// Invariants: at most <see cref="SlotCount"/> vCPUs of all domains are inside KVM_RUN at once; a unit is in
/// <see cref="_vcpus"/> exactly while it is added to the allocator. Lock order: the allocator's lock, then the slice
/// timer's; <see cref="Preempt"/> runs with neither held and takes none (the kick is an ioctl).
/// </summary>
internal sealed class VcpuScheduling : IPreemptSink, IDisposable
{
    private readonly ConcurrentDictionary<SchedUnit, Vcpu> _vcpus = new();
    private readonly ThreadSliceTimer _timer;

    /// <param name="slots">Physical-CPU slots (1 or more; <see cref="SlotAllocator.DefaultSlotCount"/> by default).</param>
    public VcpuScheduling(int slots, IHostClock clock)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        Policy = new BvtScheduler(slots);
        SlotAllocator? allocator = null;
        _timer = new ThreadSliceTimer(slots, clock, slot => allocator?.SliceTimerFired(slot));
        Allocator = allocator = new SlotAllocator(Policy, clock, _timer, this);
    }

    /// <summary>The policy (Xen's <c>struct scheduler</c>): BVT.</summary>
    public IScheduler Policy { get; }

    public SlotAllocator Allocator { get; }

    public int SlotCount => Allocator.SlotCount;

    /// <summary>The vCPU's thread starts: its unit joins, offline until its first <see cref="Vcpu.WaitForSlot"/>.</summary>
    public void Add(Vcpu vcpu)
    {
        _vcpus[vcpu.SchedUnit] = vcpu;
        Allocator.Add(vcpu.SchedUnit);
    }

    /// <summary>The vCPU's thread ends: its unit leaves, giving up its slot.</summary>
    public void Remove(Vcpu vcpu)
    {
        Allocator.Remove(vcpu.SchedUnit);
        _vcpus.TryRemove(vcpu.SchedUnit, out _);
    }

    /// <summary>
    /// Takes a slot back by kicking its holder out of the guest; a holder outside the guest sees
    /// <see cref="SchedUnit.PreemptPending"/> itself before it enters again (the allocator set it before this call,
    /// with a full barrier, and the vCPU reads it after its own in <see cref="VcpuLifecycle.SetInGuest"/>).
    /// </summary>
    public void Preempt(SchedUnit unit)
    {
        if (_vcpus.TryGetValue(unit, out Vcpu? vcpu) && vcpu.Lifecycle.InGuest)
        {
            vcpu.Machine?.Kick();
        }
    }

    public void Dispose() => _timer.Dispose();
}
