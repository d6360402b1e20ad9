using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// The hypercall table, like Xen's hypercall-defs: one entry per number, filled once. Handlers copy guest input once
/// into locals, validate, act and copy results out; a guest error is a negative errno, never an exception.
/// </summary>
internal static class HypercallDispatcher
{
    private static readonly HypercallHandler?[] Table = Build();

    private static HypercallHandler?[] Build()
    {
        var t = new HypercallHandler?[64];
        t[HypercallNumber.SetTrapTable] = TrapHypercalls.SetTrapTable;
        t[HypercallNumber.StackSwitch] = TrapHypercalls.StackSwitch;
        t[HypercallNumber.SetCallbacks] = CallbackHypercalls.SetCallbacks;
        t[HypercallNumber.CallbackOp] = CallbackHypercalls.CallbackOp;
        t[HypercallNumber.SchedOpCompat] = SchedOpHypercall.SchedOpCompat;
        t[HypercallNumber.SchedOp] = SchedOpHypercall.SchedOp;
        t[HypercallNumber.XenVersion] = XenVersionHypercall.XenVersion;
        t[HypercallNumber.ConsoleIo] = ConsoleIoHypercall.ConsoleIo;
        t[HypercallNumber.VmAssist] = VmAssistHypercall.VmAssist;
        t[HypercallNumber.MemoryOp] = MemoryOpHypercall.MemoryOp;
        t[HypercallNumber.Iret] = IretHypercall.Iret;
        t[HypercallNumber.MmuUpdate] = MmuHypercalls.MmuUpdate;
        t[HypercallNumber.MmuextOp] = MmuHypercalls.MmuextOp;
        t[HypercallNumber.UpdateVaMapping] = MmuHypercalls.UpdateVaMapping;
        t[HypercallNumber.UpdateVaMappingOtherdomain] = MmuHypercalls.UpdateVaMappingOtherdomain;
        t[HypercallNumber.Multicall] = MulticallHypercall.Multicall;
        t[HypercallNumber.SetGdt] = DescriptorHypercalls.SetGdt;
        t[HypercallNumber.UpdateDescriptor] = DescriptorHypercalls.UpdateDescriptor;
        t[HypercallNumber.EventChannelOp] = EventChannelHypercall.EventChannelOp;
        t[HypercallNumber.EventChannelOpCompat] = EventChannelHypercall.EventChannelOpCompat;
        t[HypercallNumber.SetSegmentBase] = SegmentHypercalls.SetSegmentBase;
        t[HypercallNumber.FpuTaskswitch] = FpuHypercall.FpuTaskswitch;
        t[HypercallNumber.SetDebugreg] = DebugRegHypercalls.SetDebugreg;
        t[HypercallNumber.GetDebugreg] = DebugRegHypercalls.GetDebugreg;
        t[HypercallNumber.PhysdevOp] = PhysdevHypercall.PhysdevOp;
        t[HypercallNumber.GrantTableOp] = GrantTableHypercall.GrantTableOp;
        t[HypercallNumber.SetTimerOp] = TimerHypercall.SetTimerOp;
        t[HypercallNumber.VcpuOp] = VcpuOpHypercall.VcpuOp;
        t[HypercallNumber.XenpmuOp] = XenpmuHypercall.XenpmuOp;
        return t;
    }

    /// <summary>XENSHARP_TRACE=hypercalls logs every hypercall with its arguments and result (debugging only).</summary>
    private static readonly bool Trace = Environment.GetEnvironmentVariable("XENSHARP_TRACE")?.Contains("hypercalls", StringComparison.Ordinal) == true;

    public static bool IsImplemented(ulong number) => number < (ulong)Table.Length && Table[number] is not null;

    public static ulong Dispatch(Vcpu vcpu, ulong number, ulong a1, ulong a2, ulong a3, ulong a4, ulong a5)
    {
        HypercallHandler? h = number < (ulong)Table.Length ? Table[number] : null;
        if (h is null)
        {
            Domain d = vcpu.Domain;
            d.Log.Limited($"d{d.Id}-hypercall-{number}", $"(d{d.Id}v{vcpu.Id}) unimplemented hypercall {number}: -ENOSYS");
            return unchecked((ulong)(long)-XenErrno.ENOSYS);
        }

        long result = h(vcpu, a1, a2, a3, a4, a5);
        if (Trace)
        {
            vcpu.Domain.Log.Vcpu(vcpu.Domain.Id, vcpu.Id, $"hypercall {number}({a1:x}, {a2:x}, {a3:x}, {a4:x}, {a5:x}) = {result}");
        }

        return unchecked((ulong)result);
    }
}
