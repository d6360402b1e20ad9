using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Grants;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Dom0;

/// <summary>
/// A backend's mapping of one guest grant (what xengnttab_map_grant_ref gives a backend in domain 0). While it exists
/// the granted frame holds the mapping's references — so the guest can neither give it back nor retype a writable
/// one, and a guest destroyed meanwhile leaves the frame to the mapping until it is disposed — and the entry shows
/// GTF_reading (GTF_writing unless read-only), so the guest cannot end access under the backend.
/// Invariant: <see cref="Open"/> never yields the page after <see cref="Dispose"/>; dispose waits for an open access.
/// </summary>
public sealed class HostGrantMapping : IDisposable
{
    private readonly object _lock = new(); // a leaf: one access or the unmap at a time
    private readonly Domain _granter;
    private readonly Mfn _frame;
    private bool _unmapped;

    internal HostGrantMapping(Domain granter, uint gref, bool readOnly, Mfn frame)
    {
        _granter = granter;
        Ref = gref;
        ReadOnly = readOnly;
        _frame = frame;
    }

    public ushort Domid => _granter.Id;

    public uint Ref { get; }

    public bool ReadOnly { get; }

    /// <summary>The granted page (present until the mapping is disposed). Write it only when not <see cref="ReadOnly"/>.</summary>
    public PageAccess Open()
    {
        Monitor.Enter(_lock);
        return new PageAccess(_lock, !_unmapped, _unmapped ? Span<byte>.Empty : _granter.Pool.Frame(_frame));
    }

    /// <summary>Unmaps: the references go, the entry's status is reduced to what other mappings need.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_unmapped)
            {
                return;
            }

            _unmapped = true;
        }

        HostGrants.Unmap(_granter, Ref, ReadOnly, _frame);
    }
}
