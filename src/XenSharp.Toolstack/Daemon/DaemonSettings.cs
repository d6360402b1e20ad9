namespace XenSharp.Toolstack.Daemon;

/// <summary>How the daemon treats its domains.</summary>
public sealed record DaemonSettings
{
    /// <summary>The machine pool's size, for xl info's total_memory.</summary>
    public ulong PoolBytes { get; init; }

    /// <summary>Most restarts of one domain (on_reboot/on_crash = restart) before the daemon destroys it instead (--max-restarts).</summary>
    public int MaxRestarts { get; init; } = 5;

    /// <summary>How long SIGTERM waits for the guests to shut down before it destroys them.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long block-detach and network-detach wait for the guest's frontend to close before the device is removed
    /// anyway (libxl's LIBXL_DESTROY_TIMEOUT, 10 s).
    /// </summary>
    public TimeSpan DetachTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
