using XenSharp.Backends.Xenstore;

namespace XenSharp.Tests.Xenstore;

/// <summary>A xenstore ring page in a byte array, for ring tests without a domain; <see cref="IsPresent"/> can be withdrawn.</summary>
internal sealed class HeapStorePage : IStorePage
{
    public byte[] Memory { get; } = new byte[4096];

    public object Lock { get; } = new();

    public bool IsPresent { get; set; } = true;

    public Span<byte> Bytes => Memory;
}
