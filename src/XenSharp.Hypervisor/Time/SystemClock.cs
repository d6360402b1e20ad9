namespace XenSharp.Hypervisor.Time;

/// <summary>
/// Xen system time: nanoseconds since the hypervisor started, one clock for every domain (vcpu_time_info.system_time,
/// timer deadlines). The wall clock in shared_info is the UTC time at system time 0, so a guest's
/// wall time = wall clock + system time.
/// </summary>
internal sealed class SystemClock
{
    public SystemClock(IHostClock host, DateTimeOffset? utcNow = null)
    {
        Host = host;
        EpochHostNs = host.NowNanoseconds;
        DateTimeOffset utc = utcNow ?? DateTimeOffset.UtcNow;
        long ticks = utc.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks; // 100 ns units since 1970
        WallClockSeconds = (ulong)(ticks / TimeSpan.TicksPerSecond);
        WallClockNanoseconds = (uint)(ticks % TimeSpan.TicksPerSecond * 100);
    }

    public IHostClock Host { get; }

    /// <summary>The host-clock time of system time 0.</summary>
    public long EpochHostNs { get; }

    /// <summary>UTC seconds since 1970 at system time 0.</summary>
    public ulong WallClockSeconds { get; }

    /// <summary>The nanoseconds part of <see cref="WallClockSeconds"/>.</summary>
    public uint WallClockNanoseconds { get; }

    /// <summary>System time at host-clock time <paramref name="hostNs"/> (0 before the epoch).</summary>
    public ulong SystemTimeAt(long hostNs) => hostNs > EpochHostNs ? (ulong)(hostNs - EpochHostNs) : 0;

    public ulong Now => SystemTimeAt(Host.NowNanoseconds);

    /// <summary>The host-clock time of system time <paramref name="systemNs"/>.</summary>
    public long HostTimeOf(ulong systemNs) => EpochHostNs + (long)Math.Min(systemNs, long.MaxValue / 2);
}
