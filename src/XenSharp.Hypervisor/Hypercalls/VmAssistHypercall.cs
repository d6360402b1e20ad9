using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>vm_assist(cmd, type): records the assists a 64-bit PV guest may turn on.</summary>
internal static class VmAssistHypercall
{
    public static long VmAssist(Vcpu vcpu, ulong cmd, ulong type, ulong a3, ulong a4, ulong a5)
    {
        if (type >= 64 || (Abi.VmAssist.Pv64ValidMask & (1UL << (int)type)) == 0)
        {
            return -XenErrno.EINVAL;
        }

        Domain d = vcpu.Domain;
        switch (cmd)
        {
            case Abi.VmAssist.CmdEnable:
                d.VmAssist |= 1UL << (int)type;
                break;
            case Abi.VmAssist.CmdDisable:
                d.VmAssist &= ~(1UL << (int)type);
                break;
            default:
                return -XenErrno.ENOSYS;
        }

        bool iopl = (d.VmAssist & (1UL << Abi.VmAssist.TypeArchitecturalIopl)) != 0;
        foreach (Vcpu v in d.Vcpus)
        {
            v.SetSlowPathOnly(iopl);
        }

        return 0;
    }
}
