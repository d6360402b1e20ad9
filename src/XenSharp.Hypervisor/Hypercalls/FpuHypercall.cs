using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Pv.Emulation;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// fpu_taskswitch(set) (hypercall 5): sets or clears the guest's virtual CR0.TS, which MOV from CR0 then shows.
/// Xen also sets the real CR0.TS so the guest's next FPU instruction raises #NM; XenSharp does not yet (the real CR0 is
/// only writable by the ring-0 stub), so a guest relying on lazy FPU switching gets no #NM.
/// </summary>
internal static class FpuHypercall
{
    public static long FpuTaskswitch(Vcpu vcpu, ulong set, ulong a2, ulong a3, ulong a4, ulong a5)
    {
        ControlRegisters.SetTaskSwitched(vcpu, (int)set != 0);
        return 0;
    }
}
