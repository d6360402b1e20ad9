namespace XenSharp.Hypervisor.Domains;

/// <summary>What the core needs from a vCPU's machine (KVM) state between runs. Called only on the vCPU's own thread.</summary>
public interface IVcpuMachine
{
    ulong GetMsr(uint index);

    void SetMsr(uint index, ulong value);

    /// <summary>The real DR0–DR7 (4 and 5 unused) of the vCPU.</summary>
    ulong[] GetDebugRegisters();

    void SetDebugRegisters(ReadOnlySpan<ulong> dr);
}
