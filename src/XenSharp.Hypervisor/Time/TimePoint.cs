namespace XenSharp.Hypervisor.Time;

/// <summary>A moment as system time (what the guest's clock reads) and as host-clock time, taken together.</summary>
internal readonly record struct TimePoint(ulong SystemNs, long HostNs);
