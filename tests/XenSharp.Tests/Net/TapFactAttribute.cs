using XenSharp.Backends.Net;
using Xunit;

namespace XenSharp.Tests.Net;

/// <summary>A test that makes a TAP device in a network namespace of its own: it needs /dev/net/tun and root.</summary>
public sealed class TapFactAttribute : FactAttribute
{
    public TapFactAttribute()
    {
        if (!TapDevice.IsAvailable)
        {
            Skip = "no /dev/net/tun on this host (the tun module is not loaded, or a container without it)";
        }
        else if (!Environment.IsPrivilegedProcess)
        {
            Skip = "not root: a TAP device in its own network namespace needs CAP_SYS_ADMIN and CAP_NET_ADMIN";
        }
    }
}
