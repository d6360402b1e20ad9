using System.Net.Sockets;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// One client of the store's Unix socket. Bytes the client sends are buffered by a receive loop (at most
/// <see cref="InputLimit"/> ahead of the store, so a client cannot make the host buffer without end); the store takes
/// them through <see cref="Read"/> under its lock. Output the store writes is buffered (at most
/// <see cref="OutputLimit"/>; beyond that the store keeps it queued) and sent by a send loop, so no store call ever
/// blocks on the socket. <see cref="_lock"/> guards both buffers; it is taken inside the store's lock, never around it.
/// </summary>
internal sealed class SocketTransport : IStoreTransport
{
    public const int InputLimit = 64 * 1024;
    public const int OutputLimit = 1024 * 1024;

    private readonly object _lock = new();
    private readonly Socket _socket;
    private readonly Queue<byte> _input = new();
    private readonly Queue<byte> _output = new();
    private readonly SemaphoreSlim _inputDrained = new(0);
    private readonly SemaphoreSlim _outputReady = new(0);
    private volatile bool _closed;

    public SocketTransport(Socket socket) => _socket = socket;

    public bool IsClosed => _closed;

    public int Read(Span<byte> buffer)
    {
        lock (_lock)
        {
            int n = Math.Min(buffer.Length, _input.Count);
            for (int i = 0; i < n; i++)
            {
                buffer[i] = _input.Dequeue();
            }

            if (n > 0)
            {
                _inputDrained.Release();
            }

            return n;
        }
    }

    public int Write(ReadOnlySpan<byte> bytes)
    {
        if (_closed)
        {
            return -(int)Abi.XenstoreLayout.ErrorComm;
        }

        lock (_lock)
        {
            int n = Math.Min(bytes.Length, OutputLimit - _output.Count);
            foreach (byte b in bytes[..n])
            {
                _output.Enqueue(b);
            }

            return n;
        }
    }

    public void Notify() => _outputReady.Release();

    public void Break(uint error) => Close();

    public void Close()
    {
        _closed = true;
        _outputReady.Release();
        _inputDrained.Release();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        _socket.Dispose();
    }

    /// <summary>Receives until the client goes away, handing what arrives to <paramref name="service"/>.</summary>
    public async Task ReceiveLoop(Action service)
    {
        var buffer = new byte[4096];
        try
        {
            while (!_closed)
            {
                int n = await _socket.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }

                while (true)
                {
                    lock (_lock)
                    {
                        if (_input.Count + n <= InputLimit)
                        {
                            foreach (byte b in buffer.AsSpan(0, n))
                            {
                                _input.Enqueue(b);
                            }

                            break;
                        }
                    }

                    service(); // the store takes what it can; wait until it has taken something
                    await _inputDrained.WaitAsync(TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
                    if (_closed)
                    {
                        return;
                    }
                }

                service();
            }
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Sends buffered output as it comes; after each send the store may write what it held back.</summary>
    public async Task SendLoop(Action service)
    {
        var chunk = new byte[16 * 1024];
        try
        {
            while (!_closed)
            {
                await _outputReady.WaitAsync().ConfigureAwait(false);
                while (!_closed)
                {
                    int n;
                    lock (_lock)
                    {
                        n = Math.Min(chunk.Length, _output.Count);
                        for (int i = 0; i < n; i++)
                        {
                            chunk[i] = _output.Dequeue();
                        }
                    }

                    if (n == 0)
                    {
                        break;
                    }

                    for (int sent = 0; sent < n;)
                    {
                        sent += await _socket.SendAsync(chunk.AsMemory(sent, n - sent), SocketFlags.None).ConfigureAwait(false);
                    }

                    service();
                }
            }
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
