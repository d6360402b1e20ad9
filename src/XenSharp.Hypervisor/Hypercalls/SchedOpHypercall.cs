using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>sched_op(cmd, arg) and the older sched_op_compat(cmd, value).</summary>
internal static class SchedOpHypercall
{
    public static long SchedOp(Vcpu vcpu, ulong cmd, ulong arg, ulong a3, ulong a4, ulong a5)
    {
        switch (cmd)
        {
            case Abi.SchedOp.Yield:
                vcpu.YieldSlot(); // the scheduler may give its slot to another; it waits for one before it re-enters
                return 0;
            case Abi.SchedOp.Block:
                return Block(vcpu);
            case Abi.SchedOp.Poll:
                return Poll(vcpu, arg);
            case Abi.SchedOp.Shutdown:
            case Abi.SchedOp.ShutdownCode:
            {
                Span<byte> r = stackalloc byte[4];
                if (!vcpu.CopyFromGuest(arg, r))
                {
                    return -XenErrno.EFAULT;
                }

                uint reason = BinaryPrimitives.ReadUInt32LittleEndian(r);
                return cmd == Abi.SchedOp.Shutdown ? Shutdown(vcpu, reason) : ShutdownCode(vcpu, reason);
            }

            case Abi.SchedOp.RemoteShutdown:
                return -XenErrno.EPERM; // only a privileged domain may shut down another
            default:
                return -XenErrno.ENOSYS;
        }
    }

    public static long SchedOpCompat(Vcpu vcpu, ulong cmd, ulong value, ulong a3, ulong a4, ulong a5) => cmd switch
    {
        Abi.SchedOp.Yield => SchedOp(vcpu, cmd, 0, 0, 0, 0),
        Abi.SchedOp.Block => Block(vcpu),
        Abi.SchedOp.Shutdown => Shutdown(vcpu, (uint)value),
        _ => -XenErrno.ENOSYS,
    };

    private static long Shutdown(Vcpu vcpu, uint reason)
    {
        if (reason > (uint)ShutdownReason.SoftReset)
        {
            return -XenErrno.EINVAL;
        }

        if (reason == (uint)ShutdownReason.Suspend)
        {
            // Save/restore is not built yet: refusing lets the guest carry on instead of hanging suspended.
            return -XenErrno.EOPNOTSUPP;
        }

        vcpu.Domain.Shutdown((ShutdownReason)reason);
        return 0;
    }

    private static long ShutdownCode(Vcpu vcpu, uint reason)
    {
        if (reason > (uint)ShutdownReason.SoftReset)
        {
            return -XenErrno.EINVAL;
        }

        vcpu.Domain.ShutdownCode = (ShutdownReason)reason;
        return 0;
    }

    /// <summary>
    /// Unmasks event delivery and sleeps until an event is pending or the vCPU is stopped. The check after
    /// <see cref="Vcpu.BeginBlock"/> closes the lost-wakeup window: an event raised after it releases
    /// <see cref="Vcpu.Wake"/>, so the wait returns at once. A pause while blocked parks it, still blocked
    /// (<see cref="Vcpu.ParkBlocked"/>); what arrives meanwhile wakes it after the pause.
    /// </summary>
    private static long Block(Vcpu vcpu)
    {
        Span<byte> info = vcpu.VcpuInfo;
        if (!info.IsEmpty)
        {
            info[SharedInfoLayout.UpcallMask] = 0;
        }

        vcpu.BeginBlock();
        while (!EventsNeedDelivery(vcpu) && !vcpu.StopRequested && vcpu.IsUp)
        {
            if (vcpu.Lifecycle.IsPauseRequested)
            {
                vcpu.ParkBlocked();
                continue;
            }

            vcpu.Wake.Wait(WaitSliceMs);
        }

        vcpu.EndBlock();
        return 0;
    }

    /// <summary>Longest sleep between re-checks; every wake-up source also releases <see cref="Vcpu.Wake"/>.</summary>
    private const int WaitSliceMs = 200;

    private const int PollMaxPorts = 128;

    /// <summary>
    /// SCHEDOP_poll {ports, nr_ports, timeout}: blocks until one of the ports is pending, an upcall is deliverable, or
    /// the timeout (system time; 0 = none) passes. Unlike block it leaves the upcall mask alone: Linux polls its
    /// spinlock port with events masked. A port that is not valid is -EINVAL, a port list it cannot read -EFAULT.
    /// </summary>
    private static long Poll(Vcpu vcpu, ulong arg)
    {
        Span<byte> b = stackalloc byte[24];
        if (!vcpu.CopyFromGuest(arg, b))
        {
            return -XenErrno.EFAULT;
        }

        ulong ports = BinaryPrimitives.ReadUInt64LittleEndian(b);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(b[8..]);
        ulong timeout = BinaryPrimitives.ReadUInt64LittleEndian(b[16..]);
        if (count > PollMaxPorts)
        {
            return -XenErrno.EINVAL;
        }

        Span<uint> list = stackalloc uint[(int)count];
        Span<byte> raw = System.Runtime.InteropServices.MemoryMarshal.AsBytes(list);
        if (!vcpu.CopyFromGuest(ports, raw))
        {
            return -XenErrno.EFAULT;
        }

        vcpu.PollTimedOut = false;
        vcpu.BeginBlock();
        long rc = 0;
        try
        {
            if (EventsNeedDelivery(vcpu))
            {
                return 0;
            }

            if (AnyPending(vcpu, list, out rc))
            {
                return rc;
            }

            vcpu.Timers.SetPollTimeout(timeout, vcpu.Now());
            while (!vcpu.PollTimedOut && !vcpu.StopRequested && vcpu.IsUp && !EventsNeedDelivery(vcpu))
            {
                if (vcpu.Lifecycle.IsPauseRequested)
                {
                    vcpu.ParkBlocked();
                    continue;
                }

                if (AnyPending(vcpu, list, out rc))
                {
                    return rc;
                }

                vcpu.Wake.Wait(WaitSliceMs);
            }

            return 0;
        }
        finally
        {
            vcpu.Timers.StopPoll();
            vcpu.EndBlock();
        }
    }

    /// <summary>Whether a listed port is pending (true, rc 0) or invalid (true, rc -EINVAL), as Xen's evtchn_port_poll.</summary>
    private static bool AnyPending(Vcpu vcpu, ReadOnlySpan<uint> ports, out long rc)
    {
        rc = 0;
        foreach (uint port in ports)
        {
            int state = vcpu.Domain.Events.PollPort(port);
            if (state < 0)
            {
                rc = state;
                return true;
            }

            if (state > 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Xen's local_events_need_delivery: an upcall is pending and not masked.</summary>
    private static bool EventsNeedDelivery(Vcpu vcpu) => vcpu.UpcallDeliverable;
}
