namespace XenSharp.Hypervisor.Time;

/// <summary>A guest TSC value and the host-clock time it was read at (the midpoint of the read).</summary>
internal readonly record struct TscSample(ulong Tsc, long HostNs);
