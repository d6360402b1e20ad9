using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using XenSharp.Kvm;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// The daemon's control socket: a Unix stream socket, mode 0660 (root and, with <c>--group</c>, that group), each
/// connection served on its own task with requests answered in order (<see cref="ControlFrame"/>). Invariant: nothing
/// a client does reaches past its own connection — malformed JSON and unknown verbs get an error reply, a broken frame
/// (too large, cut short) or a client gone mid-request closes that connection, and a handler's exception becomes an
/// error reply; the accept loop and the other connections carry on. The socket file is removed on Dispose.
/// </summary>
public sealed class ControlServer : IDisposable
{
    private readonly Socket _listener;
    private readonly Func<JsonObject, CancellationToken, Task<ControlReply>> _handler;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private int _disposed;

    private ControlServer(string path, Socket listener, Func<JsonObject, CancellationToken, Task<ControlReply>> handler, ILogger log)
    {
        Path = path;
        _listener = listener;
        _handler = handler;
        _log = log;
        _acceptLoop = Task.Run(AcceptLoop);
    }

    public string Path { get; }

    /// <summary>Default place of the control socket.</summary>
    public const string DefaultPath = "/run/xensharp/control.sock";

    /// <summary>Listens on <paramref name="path"/> (its directory created; a stale socket replaced, a live daemon's refused).</summary>
    /// <exception cref="DaemonException">The path holds something else or a live daemon, or cannot be bound.</exception>
    public static ControlServer Start(string path, Func<JsonObject, CancellationToken, Task<ControlReply>> handler, ILogger log, string? group = null)
    {
        string? dir = System.IO.Path.GetDirectoryName(path);
        try
        {
            if (!string.IsNullOrEmpty(dir))
            {
                Directory.CreateDirectory(dir);
            }

            Claim(path);
            var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                listener.Bind(new UnixDomainSocketEndPoint(path));
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
                }

                if (group is not null)
                {
                    SetGroup(path, group);
                }

                listener.Listen(64);
                return new ControlServer(path, listener, handler, log);
            }
            catch
            {
                listener.Dispose();
                throw;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SocketException)
        {
            throw new DaemonException($"{path}: cannot listen there: {e.Message}");
        }
    }

    private static void Claim(string path)
    {
        HostFileType type = HostFiles.TypeOf(path);
        if (type == HostFileType.None)
        {
            return;
        }

        if (type != HostFileType.Socket)
        {
            throw new DaemonException($"{path}: exists and is not a socket; not replacing it");
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            throw new DaemonException($"{path}: a xensharp daemon is already listening there");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            File.Delete(path); // stale: its daemon is gone
        }
    }

    private static void SetGroup(string path, string group)
    {
        var psi = new ProcessStartInfo("chgrp", [group, path]) { UseShellExecute = false, RedirectStandardError = true };
        using Process chgrp = Process.Start(psi) ?? throw new DaemonException("cannot run chgrp");
        string error = chgrp.StandardError.ReadToEnd();
        chgrp.WaitForExit();
        if (chgrp.ExitCode != 0)
        {
            throw new DaemonException($"{path}: cannot give the socket to group {group}: {error.Trim()}");
        }
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                _log.LogWarning("control socket accept failed: {Error}", e.Message);
                continue;
            }

            _ = Task.Run(() => Serve(client));
        }
    }

    /// <summary>One connection: requests and replies in turn until the client closes it or breaks the framing.</summary>
    private async Task Serve(Socket client)
    {
        using var stream = new NetworkStream(client, ownsSocket: true);
        CancellationToken cancel = _stop.Token;
        try
        {
            while (true)
            {
                byte[]? frame;
                try
                {
                    frame = await ControlFrame.ReadAsync(stream, cancel);
                }
                catch (ControlProtocolException e)
                {
                    _log.LogWarning("control client: {Problem}; closing its connection", e.Message);
                    await TryReply(stream, ControlReply.Error(e.Message), cancel);
                    return;
                }

                if (frame is null)
                {
                    return;
                }

                ControlReply reply;
                try
                {
                    JsonObject request = ControlFrame.Parse(frame);
                    reply = await _handler(request, cancel);
                }
                catch (JsonException e)
                {
                    reply = ControlReply.Error($"malformed request: {e.Message}");
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    _log.LogError(e, "a request failed");
                    reply = ControlReply.Error($"internal error: {e.Message}");
                }

                await ControlFrame.WriteAsync(stream, reply.Body, cancel);
                if (reply.Then is { } then)
                {
                    await then(stream, cancel);
                    return;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or ControlProtocolException)
        {
            // The client went away mid-request or the daemon is stopping: only this connection ends.
        }
        catch (Exception e)
        {
            _log.LogError(e, "control connection failed");
        }
    }

    private static async Task TryReply(Stream stream, ControlReply reply, CancellationToken cancel)
    {
        try
        {
            await ControlFrame.WriteAsync(stream, reply.Body, cancel);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        _listener.Dispose();
        try
        {
            _acceptLoop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }

        try
        {
            File.Delete(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

    }
}
