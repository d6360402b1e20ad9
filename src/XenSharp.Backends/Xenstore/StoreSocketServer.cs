using System.Net.Sockets;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// xenstored's Unix socket (/run/xenstored/socket by default): the same wire format as a ring (a 16-byte header and at
/// most 4096 bytes of payload per message), every client privileged as domain 0 — Xen's own tools (xenstore-ls,
/// xenstore-read, xenstore-write, xenstore-watch with XENSTORED_PATH pointing here) work against it. A client that
/// breaks the framing is disconnected. Dispose stops listening, disconnects every client and removes the socket file.
/// </summary>
public sealed class StoreSocketServer : IDisposable
{
    public const string DefaultPath = "/run/xenstored/socket";

    private readonly XenStore _store;
    private readonly Socket _listener;
    private readonly List<SocketTransport> _clients = new();
    private readonly Task _acceptLoop;
    private volatile bool _disposed;

    private StoreSocketServer(XenStore store, string path, Socket listener)
    {
        _store = store;
        Path = path;
        _listener = listener;
        _acceptLoop = Task.Run(AcceptLoop);
    }

    public string Path { get; }

    /// <summary>Listens on <paramref name="path"/> (its directory created, a stale socket file replaced).</summary>
    public static StoreSocketServer Start(XenStore store, string path)
    {
        string? dir = System.IO.Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        if (File.Exists(path))
        {
            File.Delete(path);
        }

        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(16);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        return new StoreSocketServer(store, path, listener);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _listener.Dispose();
        _acceptLoop.Wait(TimeSpan.FromSeconds(5));
        lock (_clients)
        {
            foreach (SocketTransport c in _clients)
            {
                c.Close();
            }
        }

        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
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
