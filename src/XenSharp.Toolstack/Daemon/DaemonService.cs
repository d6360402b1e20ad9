using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// `xensharp daemon` put together: the toolstack over one hypervisor, its control socket and its xenstored socket
/// (StoreSocketServer.DefaultPath unless a live xenstored is there or a path is given). <see cref="RunAsync"/> serves
/// until <see cref="Stop"/> or SIGTERM/SIGINT, then shuts the guests down (with a timeout), destroys what is left and
/// removes both sockets; <see cref="Dispose"/> then closes the host's uplinks. A daemon given a reason why no domain can
/// be created (a host without KVM) is store-only: it serves both sockets and every verb, but refuses `create` with that
/// reason in one line.
/// </summary>
public sealed class DaemonService : IDisposable
{
    private readonly TaskCompletionSource _stop = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _log;
    private readonly ControlServer _control;
    private readonly StoreSocketServer? _storeSocket;
    private readonly PosixSignalRegistration[] _signals;
    private readonly string? _noDomains;

    /// <param name="xenstoreSocket">Where to serve xenstore; null: the default place if free, else nowhere.</param>
    /// <param name="noDomains">Why no domain can be created here (e.g. "no /dev/kvm on this host"); null: they can.</param>
    public DaemonService(XenHypervisor hypervisor, LogRing ring, ILogger log, DaemonSettings settings, string controlSocket, string? xenstoreSocket, string? group = null,
        string? noDomains = null)
    {
        _log = log;
        _noDomains = noDomains;
        Toolstack = new DaemonToolstack(hypervisor, ring, log, settings);
        _signals = [.. new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT }.Select(s => PosixSignalRegistration.Create(s, c =>
        {
            c.Cancel = true;
            _log.LogInformation("{Signal}: stopping", c.Signal);
            Stop();
        }))];
        string? storePath = xenstoreSocket ?? DefaultStorePath(log);
        _storeSocket = storePath is null ? null : StoreSocketServer.Start(Toolstack.Store, storePath);
        try
        {
            _control = ControlServer.Start(controlSocket, HandleAsync, log, group);
        }
        catch
        {
            _storeSocket?.Dispose();
            throw;
        }

        log.LogInformation("listening on {Control}; xenstore on {Store}", controlSocket, storePath ?? "(none)");
    }

    public DaemonToolstack Toolstack { get; }

    public string? StoreSocketPath => _storeSocket?.Path;

    private static string? DefaultStorePath(ILogger log)
    {
        try
        {
            Backends.Xenstore.StoreSocketPath.Check(StoreSocketServer.DefaultPath);
            return StoreSocketServer.DefaultPath;
        }
        catch (StoreSocketException e)
        {
            log.LogWarning("not serving xenstore at the default place: {Reason}", e.Message);
            return null;
        }
    }

    public void Stop() => _stop.TrySetResult();

    /// <summary>The toolstack's verbs, but `create` refused in one line when no domain can be created here.</summary>
    private Task<ControlReply> HandleAsync(JsonObject request, CancellationToken cancel) =>
        _noDomains is not null && request["verb"] is JsonValue verb && verb.TryGetValue(out string? name) && name == "create"
            ? Task.FromResult(ControlReply.Error($"cannot create domain: {_noDomains}"))
            : Toolstack.HandleAsync(request, cancel);

    /// <summary>Serves until stopped, then shuts every domain down.</summary>
    public async Task RunAsync()
    {
        await _stop.Task;
        await Toolstack.ShutdownAllAsync();
        _log.LogInformation("stopped");
    }

    public void Dispose()
    {
        foreach (PosixSignalRegistration r in _signals)
        {
            r.Dispose();
        }

        _control.Dispose();
        _storeSocket?.Dispose();
        Toolstack.Dispose(); // the uplinks, once no request can come
    }
}
