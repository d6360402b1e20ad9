using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor.Dom0;

namespace XenSharp.Tests.Xenstore;

/// <summary>A xenstore ring page in a byte array, for ring tests without a domain; <see cref="IsPresent"/> can be withdrawn.</summary>
internal sealed class HeapStorePage : IStorePage
{
    private readonly object _lock = new();

    public byte[] Memory { get; } = new byte[4096];

    public bool IsPresent { get; set; } = true;

    public PageAccess Open()
    {
        Monitor.Enter(_lock);
        return new PageAccess(_lock, IsPresent, IsPresent ? Memory : Span<byte>.Empty);
    }
}
