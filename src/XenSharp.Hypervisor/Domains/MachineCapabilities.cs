namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// What the core must know about the machine under it, decided once by the machine layer (Machine/) so nothing above
/// it names the machine's own types. <paramref name="Name"/> is for messages (e.g. "kvm_amd").
/// <paramref name="RingThreeFaultsInM2pSlot"/>: ring-3 reads in L4 slot 256 fault (kvm_pvm's reserved-bit #PF,
/// tools/probes/user-read-slot.c), so guests are given the M2P alias in slot 257.
/// </summary>
internal sealed record MachineCapabilities(string Name, bool RingThreeFaultsInM2pSlot)
{
    /// <summary>No machine (unit tests): nothing runs, Xen's own layout applies.</summary>
    public static MachineCapabilities None { get; } = new("none", false);
}
