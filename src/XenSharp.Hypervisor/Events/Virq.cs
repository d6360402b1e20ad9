namespace XenSharp.Hypervisor.Events;

/// <summary>
/// Virtual IRQ numbers (public/xen.h) and their binding scope, as Xen's get_virq_type: per-vCPU VIRQs bind on any vCPU,
/// the per-domain VIRQ (ARGO) and the global ones only on vCPU 0, and global VIRQs only in the domain that handles them —
/// never a domU here, since the global handler is always the (host-side) hardware domain.
/// </summary>
internal static class Virq
{
    public const int Timer = 0;
    public const int Debug = 1;
    public const int Console = 2;
    public const int DomExc = 3;
    public const int Tbuf = 4;
    public const int Debugger = 6;
    public const int Xenoprof = 7;
    public const int ConRing = 8;
    public const int PcpuState = 9;
    public const int MemEvent = 10;
    public const int Argo = 11;
    public const int Enomem = 12;
    public const int Xenpmu = 13;
    public const int Arch0 = 16;
    public const int Arch7 = 23;
    public const int Count = 24;

    public static VirqScope ScopeOf(int virq) => virq switch
    {
        Timer or Debug or Xenoprof or Xenpmu => VirqScope.Vcpu,
        Argo => VirqScope.Domain,
        _ => VirqScope.Global, // x86 has only global arch VIRQs
    };
}
