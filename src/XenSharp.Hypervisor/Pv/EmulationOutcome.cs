namespace XenSharp.Hypervisor.Pv;

public enum EmulationOutcome
{
    Emulated,
    NotHandled,
    Fault,
}
