using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Pv.Emulation;

/// <summary>MSRs of the real (machine) vCPU, for state the guest keeps in hardware: segment bases, TSC, TSC_AUX, EFER.</summary>
internal static class MachineMsr
{
    /// <summary>Reads an MSR of the real vCPU; false when there is no machine or it refuses.</summary>
    public static bool TryRead(Vcpu v, uint index, out ulong value)
    {
        value = 0;
        if (v.Machine is not { } m)
        {
            return false;
        }

        try
        {
            value = m.GetMsr(index);
            return true;
        }
        catch (MachineRefusedException)
        {
            return false;
        }
    }

    /// <summary>Writes an MSR of the real vCPU; false when there is no machine or it refuses.</summary>
    public static bool TryWrite(Vcpu v, uint index, ulong value)
    {
        if (v.Machine is not { } m)
        {
            return false;
        }

        try
        {
            m.SetMsr(index, value);
            return true;
        }
        catch (MachineRefusedException)
        {
            return false;
        }
    }
}
