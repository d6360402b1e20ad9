using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// xenstored's Unix socket (/run/xenstored/socket by default): the same wire format as a ring (a 16-byte header and at
/// most 4096 bytes of payload per message), every client privileged as domain 0 — Xen's own tools (xenstore-ls,
/// xenstore-read, xenstore-write, xenstore-watch with XENSTORED_PATH pointing here) work against it. A client that
/// breaks the framing is disconnected. The path is taken only as <see cref="StoreSocketPath"/> allows (nothing there,
/// or a stale socket), and the socket file is removed when the server stops: on Dispose, and also when the process is
/// ended by SIGINT (Ctrl-C), SIGTERM, SIGHUP or SIGQUIT, whose default action (ending the process) then goes on.
/// </summary>
public sealed class StoreSocketServer : IDisposable
{
    public const string DefaultPath = "/run/xenstored/socket";

    private readonly XenStore _store;
    private readonly Socket _listener;
    private readonly List<SocketTransport> _clients = new();
    private readonly Task _acceptLoop;
    private readonly PosixSignalRegistration[] _signals;
    private readonly object _closeLock = new();
    private bool _closed;
    private volatile bool _disposed;

    private StoreSocketServer(XenStore store, string path, Socket listener)
    {
        _store = store;
        Path = path;
        _listener = listener;
        // The handlers are in place before the socket listens: a client that can connect may also signal us at once
        // (a test did, under emulation, and the file was left behind).
        _signals = [.. new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT }
            .Select(s => PosixSignalRegistration.Create(s, _ => Close()))];
        try
        {
            listener.Listen(16);
        }
        catch
        {
            foreach (PosixSignalRegistration r in _signals)
            {
                r.Dispose();
            }

            throw;
        }

        _acceptLoop = Task.Run(AcceptLoop);
    }

    public string Path { get; }

    /// <summary>Listens on <paramref name="path"/> (its directory created, a stale socket replaced).</summary>
    /// <exception cref="StoreSocketException">The path holds something else, a live xenstored, or cannot be bound.</exception>
    public static StoreSocketServer Start(XenStore store, string path)
    {
        string? dir = System.IO.Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir))
        {
            try
            {
                Directory.CreateDirectory(dir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new StoreSocketException($"{path}: cannot create its directory: {e.Message}", e);
            }
        }

        StoreSocketPath.Claim(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnownedUnixEndPoint(path)); // the file is removed by Close, only while it is still ours
            return new StoreSocketServer(store, path, listener); // listens once its signal handlers are in place
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new StoreSocketException($"{path}: cannot listen there: {e.Message}", e);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (PosixSignalRegistration r in _signals)
        {
            r.Dispose();
        }

        Close();
        _acceptLoop.Wait(TimeSpan.FromSeconds(5));
        lock (_clients)
        {
            foreach (SocketTransport c in _clients)
            {
                c.Close();
            }
        }
    }

    /// <summary>Stops listening and removes the socket file, unless something else has replaced it meanwhile.</summary>
    private void Close()
    {
        lock (_closeLock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            _listener.Dispose();
            StoreSocketPath.RemoveIfStale(Path);
        }
    }

    private async Task AcceptLoop()
    {
        while (!_disposed)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            var transport = new SocketTransport(client);
            lock (_clients)
            {
                if (_disposed)
                {
                    transport.Close();
                    return;
                }

                _clients.Add(transport);
            }

            _ = Serve(transport);
        }
    }

    private async Task Serve(SocketTransport transport)
    {
        StoreConnection connection = _store.ConnectSocket(transport);
        Action service = () => _store.Service(connection);
        Task send = transport.SendLoop(service);
        await transport.ReceiveLoop(service).ConfigureAwait(false);
        _store.Disconnect(connection);
        transport.Close();
        await send.ConfigureAwait(false);
        lock (_clients)
        {
            _clients.Remove(transport);
        }
    }
}
