namespace XenSharp.Hypervisor.Time;

/// <summary>A guest TSC value and the host-clock time it was read at (the midpoint of the read).</summary>
public readonly record struct TscSample(ulong Tsc, long HostNs);
