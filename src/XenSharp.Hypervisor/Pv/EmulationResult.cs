namespace XenSharp.Hypervisor.Pv;

/// <summary>What an instruction emulator did with a guest fault: emulated it (RIP advanced), left it alone, or turned it into another fault for the guest.</summary>
internal readonly record struct EmulationResult(EmulationOutcome Outcome, int Vector = 0, ulong? ErrorCode = null)
{
    public static EmulationResult Emulated => new(EmulationOutcome.Emulated);

    public static EmulationResult NotHandled => new(EmulationOutcome.NotHandled);

    public static EmulationResult Fault(int vector, ulong? errorCode) => new(EmulationOutcome.Fault, vector, errorCode);
}
