using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Mmu;
using XenSharp.Hypervisor.Time;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// vcpu_op(cmd, vcpuid, arg) (xen/include/public/vcpu.h; Xen's do_vcpu_op and common_vcpu_op): bring vCPUs up and
/// down, their timers, runstate and the guest-registered copies of vcpu_info, runstate and time. A vcpuid the domain
/// does not have is -ENOENT (Linux counts its CPUs that way, with VCPUOP_is_up).
/// </summary>
internal static class VcpuOpHypercall
{
    public static long VcpuOp(Vcpu vcpu, ulong cmd, ulong vcpuId, ulong arg, ulong a4, ulong a5)
    {
        Domain d = vcpu.Domain;
        if (vcpuId >= (ulong)d.Vcpus.Length)
        {
            return -XenErrno.ENOENT;
        }

        Vcpu target = d.Vcpus[(int)vcpuId];
        switch (cmd)
        {
            case Abi.VcpuOp.Initialise:
                return VcpuInitialise.Initialise(vcpu, target, arg);
            case Abi.VcpuOp.Up:
                return Up(target);
            case Abi.VcpuOp.Down:
                return Down(vcpu, target);
            case Abi.VcpuOp.IsUp:
                return target.IsUp ? 1 : 0;
            case Abi.VcpuOp.GetRunstateInfo:
                return GetRunstateInfo(vcpu, target, arg);
            case Abi.VcpuOp.RegisterRunstateMemoryArea:
                return RegisterRunstateArea(vcpu, target, arg);
            case Abi.VcpuOp.SetPeriodicTimer:
                return SetPeriodicTimer(vcpu, target, arg);
            case Abi.VcpuOp.StopPeriodicTimer:
                target.Timers.SetPeriodic(0, vcpu.Now());
                return 0;
            case Abi.VcpuOp.SetSingleshotTimer:
                return target != vcpu ? -XenErrno.EINVAL : SetSingleshotTimer(vcpu, arg);
            case Abi.VcpuOp.StopSingleshotTimer:
                if (target != vcpu)
                {
                    return -XenErrno.EINVAL;
                }

                vcpu.Timers.StopSingleshot();
                return 0;
            case Abi.VcpuOp.RegisterVcpuInfo:
                return RegisterVcpuInfo(vcpu, target, arg);
            case Abi.VcpuOp.RegisterVcpuTimeMemoryArea:
                return RegisterTimeArea(vcpu, target, arg);
            case Abi.VcpuOp.GetPhysid:
                return -XenErrno.EINVAL; // only the hardware domain's pinned vCPUs have physical ids
            default:
                d.Log.Limited($"d{d.Id}-vcpuop-{cmd}", $"(d{d.Id}v{vcpu.Id}) unimplemented vcpu_op {cmd}: -ENOSYS");
                return -XenErrno.ENOSYS;
        }
    }

    private static long Up(Vcpu target)
    {
        Domain d = target.Domain;
        int rc = target.Lifecycle.BringUp();
        if (rc <= 0)
        {
            return rc; // -EINVAL without a context; 0 when it was up already
        }

        if (d.StartVcpu is { } start && !start(target.Id))
        {
            d.Log.Vcpu(d.Id, target.Id, "VCPUOP_up: the vCPU's thread is still running; it carries on");
        }

        return 0;
    }

    /// <summary>Takes a vCPU down; the last one going down powers the domain off, as in Xen.</summary>
    private static long Down(Vcpu caller, Vcpu target)
    {
        Domain d = target.Domain;
        bool othersUp = false;
        foreach (Vcpu v in d.Vcpus)
        {
            othersUp |= v != target && v.IsUp;
        }

        if (!othersUp)
        {
            d.Shutdown(ShutdownReason.Poweroff);
            return 0;
        }

        if (!target.Lifecycle.TakeDown())
        {
            return 0;
        }

        target.Timers.StopAll();
        target.ChangeRunstate(RunstateLayout.Offline, caller.Now());
        target.Kick(interrupt: false);
        if (target != caller)
        {
            target.Machine?.Kick(); // out of the guest: its thread parks, Offline, until VCPUOP_up (Vcpu.WaitOutOfGuest)
        }
        return 0;
    }

    private static long GetRunstateInfo(Vcpu caller, Vcpu target, ulong arg)
    {
        Span<byte> info = stackalloc byte[RunstateLayout.Size];
        target.Runstate.WriteTo(info, elapsedUntil: caller.SystemTimeNow());
        return caller.CopyToGuest(arg, info) ? 0 : -XenErrno.EFAULT;
    }

    private static long RegisterRunstateArea(Vcpu caller, Vcpu target, ulong arg)
    {
        if (!TryReadAreaAddress(caller, arg, RunstateLayout.Size, out ulong va))
        {
            return -XenErrno.EFAULT;
        }

        target.RunstateArea = va;
        if (target == caller)
        {
            target.WriteRunstateArea();
        }
        else
        {
            Span<byte> info = stackalloc byte[RunstateLayout.Size];
            target.Runstate.WriteTo(info, elapsedUntil: caller.SystemTimeNow());
            caller.CopyToGuest(va, info); // as Xen: registered even if this first copy fails
        }

        return 0;
    }

    private static long SetPeriodicTimer(Vcpu caller, Vcpu target, ulong arg)
    {
        Span<byte> b = stackalloc byte[8];
        if (!caller.CopyFromGuest(arg, b))
        {
            return -XenErrno.EFAULT;
        }

        ulong period = BinaryPrimitives.ReadUInt64LittleEndian(b);
        if (period < Abi.VcpuOp.MinPeriodNs || period > (ulong)long.MaxValue / 4)
        {
            return -XenErrno.EINVAL;
        }

        target.Timers.SetPeriodic(period, caller.Now());
        return 0;
    }

    /// <summary>
    /// The caller's single-shot timer. A deadline already passed sends VIRQ_TIMER at once — with
    /// VCPU_SSHOTTMR_future too: current Xen dropped its -ETIME, and Linux BUG()s on any error here.
    /// </summary>
    private static long SetSingleshotTimer(Vcpu vcpu, ulong arg)
    {
        Span<byte> b = stackalloc byte[16];
        if (!vcpu.CopyFromGuest(arg, b))
        {
            return -XenErrno.EFAULT;
        }

        ulong deadline = BinaryPrimitives.ReadUInt64LittleEndian(b);
        vcpu.Timers.SetSingleshot(deadline, vcpu.Now());
        return 0;
    }

    /// <summary>
    /// Moves the vCPU's vcpu_info to {mfn, offset}: the area must lie in one page the domain owns, 8-byte aligned
    /// (-ENXIO), and the page keeps a writable type reference for as long as the domain lives (as Xen's
    /// map_guest_area); a second registration is -EBUSY (Xen 4.17: -EINVAL).
    /// </summary>
    private static long RegisterVcpuInfo(Vcpu caller, Vcpu target, ulong arg)
    {
        Span<byte> b = stackalloc byte[Abi.VcpuOp.RegisterVcpuInfoSize];
        if (!caller.CopyFromGuest(arg, b))
        {
            return -XenErrno.EFAULT;
        }

        ulong frame = BinaryPrimitives.ReadUInt64LittleEndian(b);
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(b[8..]);
        if (frame >= (1UL << 52) - 1 || offset >= 4096)
        {
            return -XenErrno.EINVAL; // not a guest address (Xen: the gfn does not survive gfn_to_gaddr)
        }

        if (offset > 4096 - SharedInfoLayout.VcpuInfoSize || offset % sizeof(ulong) != 0)
        {
            return -XenErrno.ENXIO; // across a page end, or not aligned for its 64-bit fields (map_guest_area)
        }

        Domain d = target.Domain;
        var mfn = new Mfn(frame);
        lock (d.Mmu.Lock)
        {
            if (target.RegisteredVcpuInfo is not null)
            {
                return -XenErrno.EBUSY;
            }

            if (!d.InDirectMap(mfn) || d.Mmu.Validator.GetPageAndType(mfn, PageType.Writable) != 0)
            {
                return -XenErrno.EINVAL;
            }

            target.MoveVcpuInfo(mfn.Address + offset);
        }

        return 0;
    }

    private static long RegisterTimeArea(Vcpu caller, Vcpu target, ulong arg)
    {
        if (!TryReadAreaAddress(caller, arg, SharedInfoLayout.TimeInfoSize, out ulong va))
        {
            return -XenErrno.EFAULT;
        }

        target.TimeArea = va;
        target.PublishTime();
        return 0;
    }

    /// <summary>Reads the guest-virtual address of an area the guest registers ({u64 addr} at <paramref name="arg"/>) and checks it.</summary>
    private static bool TryReadAreaAddress(Vcpu caller, ulong arg, int size, out ulong va)
    {
        Span<byte> b = stackalloc byte[8];
        va = 0;
        if (!caller.CopyFromGuest(arg, b))
        {
            return false;
        }

        va = BinaryPrimitives.ReadUInt64LittleEndian(b);
        return GuestRangeOk(va, size);
    }

    /// <summary>Xen's guest_handle_okay for a PV guest: the whole range lies outside the hypervisor's reserved area.</summary>
    private static bool GuestRangeOk(ulong va, int size)
    {
        ulong end = va + (ulong)size - 1;
        if (end < va)
        {
            return false;
        }

        return end < XenVirtualLayout.HypervisorVirtStart || va >= XenVirtualLayout.HypervisorVirtEnd;
    }
}
