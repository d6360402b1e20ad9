namespace XenSharp.Hypervisor.Memory;

/// <summary>A contiguous run of machine frames.</summary>
internal readonly record struct Extent(Mfn First, ulong Count)
{
    public ulong Bytes => Count << Mfn.PageShift;

    public bool Contains(Mfn mfn) => mfn.Value >= First.Value && mfn.Value < First.Value + Count;
}
