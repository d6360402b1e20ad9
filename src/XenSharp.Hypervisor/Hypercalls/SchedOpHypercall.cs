using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>sched_op(cmd, arg) and the older sched_op_compat(cmd, value).</summary>
public static class SchedOpHypercall
{
    public static long SchedOp(Vcpu vcpu, ulong cmd, ulong arg, ulong a3, ulong a4, ulong a5)
    {
        switch (cmd)
        {
            case Abi.SchedOp.Yield:
                Thread.Yield();
                return 0;
            case Abi.SchedOp.Block:
                return Block(vcpu);
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

    /// <summary>Unmasks event delivery and sleeps until an event is pending or the vCPU is stopped.</summary>
    private static long Block(Vcpu vcpu)
    {
        Span<byte> info = vcpu.VcpuInfo;
        info[SharedInfoLayout.UpcallMask] = 0;
        while (info[SharedInfoLayout.UpcallPending] == 0 && !vcpu.StopRequested)
        {
            vcpu.Wake.Wait(50);
        }

        return 0;
    }
}
