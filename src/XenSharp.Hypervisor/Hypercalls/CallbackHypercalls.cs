using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Pv;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>set_callbacks and callback_op: where events, failsafe returns and guest system calls are delivered.</summary>
internal static class CallbackHypercalls
{
    public static long SetCallbacks(Vcpu vcpu, ulong eventAddress, ulong failsafeAddress, ulong syscallAddress, ulong a4, ulong a5)
    {
        if (!GuestPageWalker.IsCanonical(eventAddress) || !GuestPageWalker.IsCanonical(failsafeAddress) || !GuestPageWalker.IsCanonical(syscallAddress))
        {
            return -XenErrno.EINVAL;
        }

        vcpu.EventCallback = eventAddress;
        vcpu.FailsafeCallback = failsafeAddress;
        vcpu.SyscallCallback = syscallAddress;
        return 0;
    }

    public static long CallbackOp(Vcpu vcpu, ulong cmd, ulong arg, ulong a3, ulong a4, ulong a5)
    {
        Span<byte> reg = stackalloc byte[CallbackType.RegisterSize];
        switch (cmd)
        {
            case CallbackType.OpRegister:
            {
                if (!vcpu.CopyFromGuest(arg, reg))
                {
                    return -XenErrno.EFAULT;
                }

                ushort type = BinaryPrimitives.ReadUInt16LittleEndian(reg);
                ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(reg[2..]);
                ulong address = BinaryPrimitives.ReadUInt64LittleEndian(reg[8..]);
                if (!GuestPageWalker.IsCanonical(address))
                {
                    return -XenErrno.EINVAL;
                }

                switch (type)
                {
                    case CallbackType.Event: vcpu.EventCallback = address; return 0;
                    case CallbackType.Failsafe: vcpu.FailsafeCallback = address; return 0;
                    case CallbackType.Syscall:
                        vcpu.SyscallCallback = address;
                        vcpu.SyscallCallbackMasksEvents = (flags & CallbackType.FlagMaskEvents) != 0;
                        return 0;
                    case CallbackType.Syscall32: vcpu.Syscall32Callback = address; return 0;
                    case CallbackType.Sysenter: vcpu.SysenterCallback = address; return 0;
                    case CallbackType.Nmi: vcpu.NmiCallback = address; return 0;
                    default: return -XenErrno.ENOSYS;
                }
            }

            case CallbackType.OpUnregister:
            {
                if (!vcpu.CopyFromGuest(arg, reg[..2]))
                {
                    return -XenErrno.EFAULT;
                }

                ushort type = BinaryPrimitives.ReadUInt16LittleEndian(reg);
                if (type == CallbackType.Nmi)
                {
                    vcpu.NmiCallback = 0;
                    return 0;
                }

                return type is CallbackType.Event or CallbackType.Failsafe or CallbackType.Syscall or CallbackType.Syscall32 or CallbackType.Sysenter
                    ? -XenErrno.EINVAL
                    : -XenErrno.ENOSYS;
            }

            default:
                return -XenErrno.ENOSYS;
        }
    }
}
