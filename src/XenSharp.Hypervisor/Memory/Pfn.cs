namespace XenSharp.Hypervisor.Memory;

/// <summary>A guest pseudo-physical frame number: an index into the domain's P2M list.</summary>
internal readonly record struct Pfn(ulong Value)
{
    public override string ToString() => $"pfn {Value:x}";
}
