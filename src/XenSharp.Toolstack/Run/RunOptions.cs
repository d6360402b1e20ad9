namespace XenSharp.Toolstack.Run;

/// <summary>How `xensharp run` behaves around its domains.</summary>
public sealed record RunOptions
{
    /// <summary>Destroy domains still running after this long; null waits for ever.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Most restarts of one domain (on_reboot/on_crash = restart) before the session gives up on it.</summary>
    public int MaxRestarts { get; init; } = 5;

    /// <summary>A Unix socket path to serve xenstore on for host tools while the session runs; null: none.</summary>
    public string? XenstoreSocket { get; init; }

    /// <summary>What the user types (standard input), sent to the first domain's console; null: no input.</summary>
    public Stream? Input { get; init; }
}
