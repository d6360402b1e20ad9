namespace XenSharp.Hypervisor.Pv;

internal enum EmulationOutcome
{
    Emulated,
    NotHandled,
    Fault,
}
