namespace XenSharp.Toolstack.Config;

/// <summary>
/// A config's `cpus=` or `cpus_soft=`, as xl's parse_vcpu_affinity reads them: a string gives every vCPU the same
/// cpumap (<see cref="All"/>); a list gives vCPU i its entry i (<see cref="PerVcpu"/>), vCPUs past the list's end
/// keep every CPU, and entries past the last vCPU are ignored. Each text is <see cref="XlCpuMap"/>'s syntax; it is
/// checked when the config is read, and against the host's CPUs when the domain is built (<see cref="For"/>).
/// </summary>
public sealed record VcpuAffinity(string Key, string? All, IReadOnlyList<string> PerVcpu, int Line)
{
    /// <summary>The CPUs vCPU <paramref name="vcpu"/> may use on a host of <paramref name="cpus"/>, or null for every CPU; a <see cref="CpuMapException"/> in one line when its cpumap cannot be had there.</summary>
    public SortedSet<int>? For(int vcpu, int cpus)
    {
        string? text = All ?? (vcpu < PerVcpu.Count ? PerVcpu[vcpu] : null);
        return text is null ? null : XlCpuMap.Parse(text, cpus);
    }

    // The generated equality would compare the list by reference, which makes two parses of one file unequal.
    public bool Equals(VcpuAffinity? other) =>
        other is not null && Key == other.Key && All == other.All && Line == other.Line && PerVcpu.SequenceEqual(other.PerVcpu);

    public override int GetHashCode() => HashCode.Combine(Key, All, Line, PerVcpu.Count);
}
