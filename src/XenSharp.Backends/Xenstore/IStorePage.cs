using XenSharp.Hypervisor.Dom0;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// A guest's xenstore ring page as the store reaches it. Touch the page only through an open <see cref="PageAccess"/>
/// and only if it says the page is present: the page may stop being the guest's (given back, domain destroyed).
/// </summary>
public interface IStorePage
{
    PageAccess Open();
}
