using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// What the core needs from a domain's machine to map another domain's frame: a domain's KVM machine has memory only
/// for its own frames (docs/architecture.md), so a grant mapping of a foreign frame first makes that one frame
/// addressable in it, and the last unmap takes it away again. Calls for one domain are serialised by its
/// <see cref="Grants.ForeignFrames"/>.
/// </summary>
internal interface IForeignFrameMachine
{
    /// <summary>Makes machine frame <paramref name="mfn"/> addressable in the domain's machine; false when it cannot.</summary>
    bool TryAddFrame(Mfn mfn);

    /// <summary>Takes a frame <see cref="TryAddFrame"/> added away again; any access to it afterwards faults in the machine.</summary>
    void RemoveFrame(Mfn mfn);
}
