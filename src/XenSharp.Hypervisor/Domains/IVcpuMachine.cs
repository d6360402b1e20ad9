namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// What the core needs from a vCPU's machine (KVM) state between runs. Called only on the vCPU's own thread, except
/// <see cref="Kick"/>, which any thread may call. A machine refusal (an MSR it does not have) is
/// <see cref="MachineRefusedException"/>, so the core needs no machine types.
/// </summary>
internal interface IVcpuMachine
{
    ulong GetMsr(uint index);

    void SetMsr(uint index, ulong value);

    /// <summary>The real DR0–DR7 (4 and 5 unused) of the vCPU.</summary>
    ulong[] GetDebugRegisters();

    void SetDebugRegisters(ReadOnlySpan<ulong> dr);

    /// <summary>The guest's TSC now: what a <c>rdtsc</c> in the guest would read.</summary>
    ulong ReadTsc();

    /// <summary>Interrupts the vCPU if it is running guest code, so that it comes out to the host (an exit) soon.</summary>
    void Kick();

    /// <summary>
    /// Sets the vCPU's XCR0 (XSETBV, already validated against what the policy offers); refused where the machine has
    /// no XSAVE or rejects the value.
    /// </summary>
    void SetXcr0(ulong value);

    /// <summary>Reads the state only the machine holds (segment bases and selectors, FPU), out of the guest.</summary>
    VcpuMachineState SaveState();

    /// <summary>Loads <paramref name="state"/> (checked by the caller: a data selector is unchanged or null).</summary>
    void LoadState(VcpuMachineState state);
}
