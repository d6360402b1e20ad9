using XenSharp.Backends.Console;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Run;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// One domain the daemon holds, from `create` until it is destroyed: its config, the kernel read once, its console
/// (kept across restarts, as the name is), and the current instance's id and backends. A restart builds a new
/// instance under a new id. Invariant: the lifecycle fields change only under <see cref="Lock"/>.
/// </summary>
public sealed class ManagedDomain(DomainConfig config, BuildRequest request)
{
    public object Lock { get; } = new();

    /// <summary>The config; `rename` replaces it with one under the new name (kept across restarts).</summary>
    public DomainConfig Config { get; set; } = config;

    public BuildRequest Request { get; } = request;

    public string Name => Config.Name;

    public ConsoleHub Console { get; } = new();

    public ConsoleMux? Mux { get; set; }

    public ushort Id { get; set; }

    public DomainBackends? Backends { get; set; }

    /// <summary>The instance's vCPUs were started (false: created with `create -p` and not yet unpaused).</summary>
    public bool Started { get; set; }

    /// <summary>Pauses the toolstack holds (xl pause), each released by an unpause.</summary>
    public int Pauses { get; set; }

    /// <summary>The instance ended and on_* said preserve: kept, paused, for inspection until destroyed.</summary>
    public bool Preserved { get; set; }

    /// <summary>Being destroyed: the supervisor leaves it alone.</summary>
    public bool Dying { get; set; }

    public int Restarts { get; set; }

    /// <summary>When the current instance was built (xl uptime).</summary>
    public DateTime CreatedUtc { get; set; }

    /// <summary>Completes when the current instance has ended and been dealt with (destroyed, preserved or restarted), with how it ended.</summary>
    public TaskCompletionSource<string> Finished { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Cancelled when the domain is gone for good (its console sessions end through ConsoleHub.DetachAll, after their last output).</summary>
    public CancellationTokenSource Gone { get; } = new();
}
