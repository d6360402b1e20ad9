using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// The hypervisor's shadow of a grant entry while something maps it (Xen's active_grant_entry): who maps it, which frame
/// was granted when it was first pinned, and the pin counts. While <see cref="Pin"/> is non-zero the guest may rewrite
/// its entry as it likes; mappings keep using <see cref="Frame"/> and <see cref="Mapper"/>. Guarded by the granting
/// table's lock.
/// </summary>
internal sealed class ActiveGrant
{
    /// <summary>GrantPin counts; an entry whose pin drops to 0 is forgotten.</summary>
    public uint Pin { get; set; }

    /// <summary>The only domain that may add pins while the entry is pinned.</summary>
    public ushort Mapper { get; init; }

    public Mfn Frame { get; init; }
}
