using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// A guest's xenstore page reached through the core's machine pool: present while the domain still owns the frame
/// (ownership changes under the pool's lock, which is therefore the page's lock).
/// </summary>
internal sealed class DomainStorePage(Domain domain, Mfn frame) : IStorePage
{
    public object Lock => domain.Pool.Lock;

    public bool IsPresent => domain.Pool.Frames.Contains(frame) && domain.Pool.Frames[frame].Owner == domain.Id;

    public Span<byte> Bytes => domain.Pool.Frame(frame);
}
