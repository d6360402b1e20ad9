using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// `xensharp daemon` put together: the toolstack over one hypervisor, its control socket and its xenstored socket
/// (StoreSocketServer.DefaultPath unless a live xenstored is there or a path is given). <see cref="RunAsync"/> serves
/// until <see cref="Stop"/> or SIGTERM/SIGINT, then shuts the guests down (with a timeout), destroys what is left and
/// removes both sockets.
/// </summary>
public sealed class DaemonService : IDisposable
{
    private readonly TaskCompletionSource _stop = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _log;
    private readonly ControlServer _control;
    private readonly StoreSocketServer? _storeSocket;
    private readonly PosixSignalRegistration[] _signals;

    /// <param name="xenstoreSocket">Where to serve xenstore; null: the default place if free, else nowhere.</param>
    public DaemonService(XenHypervisor hypervisor, LogRing ring, ILogger log, DaemonSettings settings, string controlSocket, string? xenstoreSocket, string? group = null)
    {
        _log = log;
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
            _control = ControlServer.Start(controlSocket, Toolstack.HandleAsync, log, group);
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
    }
}
