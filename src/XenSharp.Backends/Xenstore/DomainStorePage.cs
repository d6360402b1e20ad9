using XenSharp.Hypervisor.Dom0;

namespace XenSharp.Backends.Xenstore;

/// <summary>A guest's xenstore page mapped through Domain 0's foreign memory: present while the guest owns the frame.</summary>
internal sealed class DomainStorePage(ForeignPage page) : IStorePage
{
    public PageAccess Open() => page.Open();
}
