using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// xenpmu_op(op, arg) (hypercall 40) as Xen answers it with vPMU off (its default, no vpmu= on its command line):
/// -EOPNOTSUPP for every op, before the argument is read. Linux then leaves perf to software events.
/// </summary>
internal static class XenpmuHypercall
{
    public static long XenpmuOp(Vcpu vcpu, ulong op, ulong arg, ulong a3, ulong a4, ulong a5) => -XenErrno.EOPNOTSUPP;
}
