namespace XenSharp.Hypervisor.Pv;

/// <summary>
/// Emulation of the privileged instructions a PV guest kernel (running in ring 3) may use, for the #GP and #UD it
/// raises: forced-emulation CPUID, CPUID, RDMSR/WRMSR, MOV to/from CR and DR, CLTS, port I/O, RDTSCP, WBINVD, XSETBV...
/// </summary>
public static class PrivilegedOps
{
    public static EmulationResult TryEmulate(Domains.Vcpu vcpu, int vector) => EmulationResult.NotHandled;
}
