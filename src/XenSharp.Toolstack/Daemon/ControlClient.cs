using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// A client of the daemon's control socket: one connection, requests answered in turn. The socket is
/// $XENSHARP_SOCKET, else <see cref="ControlServer.DefaultPath"/>.
/// </summary>
public sealed class ControlClient : IDisposable
{
    private readonly Socket _socket;

    private ControlClient(Socket socket, string path)
    {
        _socket = socket;
        Stream = new NetworkStream(socket, ownsSocket: true);
        Path = path;
    }

    public string Path { get; }

    /// <summary>The connection (after `console`, the raw console stream).</summary>
    public NetworkStream Stream { get; }

    public static string DefaultPath =>
        Environment.GetEnvironmentVariable("XENSHARP_SOCKET") is { Length: > 0 } p ? p : ControlServer.DefaultPath;

    /// <exception cref="DaemonException">No daemon answers at the path.</exception>
    public static ControlClient Connect(string? path = null)
    {
        path ??= DefaultPath;
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return new ControlClient(socket, path);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new DaemonException(e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused
                ? $"no xensharp daemon at {path} (start one with 'xensharp daemon')"
                : $"{path}: cannot reach the daemon: {e.Message}");
        }
    }

    /// <summary>Sends a request and returns the reply; an error reply is a <see cref="DaemonException"/> with its message.</summary>
    public async Task<JsonObject> RequestAsync(JsonObject request, CancellationToken cancel = default)
    {
        await ControlFrame.WriteAsync(Stream, request, cancel);
        byte[] frame = await ControlFrame.ReadAsync(Stream, cancel) ?? throw new DaemonException("the daemon closed the connection");
        JsonObject reply = ControlFrame.Parse(frame);
        if (reply["ok"]?.GetValue<bool>() != true)
        {
            throw new DaemonException(reply["error"]?.GetValue<string>() ?? "the daemon refused the request");
        }

        return reply;
    }

    public JsonObject Request(JsonObject request) => RequestAsync(request).GetAwaiter().GetResult();

    public void Dispose() => Stream.Dispose();
}
