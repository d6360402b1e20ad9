using System.Text;
using System.Threading.Channels;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// A daemon domain's console, as xenconsoled keeps it: what the guest writes is kept (the last
/// <see cref="HistoryBytes"/>, replayed to each client that attaches and read for a crashed domain's last lines) and
/// sent to every attached client; what clients type is queued for the guest's in ring. Invariants: a vCPU or backend
/// thread writing never waits on a client (each client has a bounded queue; a client that does not read loses output,
/// never the guest's time); <see cref="_history"/>, <see cref="_clients"/>, <see cref="_input"/>,
/// <see cref="_ended"/> and <see cref="_everAttached"/> change only under <see cref="_lock"/>; the input queue holds at most <see cref="InputBytes"/>;
/// once the domain is gone (<see cref="DetachAll"/>) every client, attached or attaching, gets all the output there was
/// and then the end of its session (xl console ends with the domain).
/// </summary>
public sealed class ConsoleHub : IConsoleSink
{
    public const int HistoryBytes = 64 * 1024;
    public const int InputBytes = 64 * 1024;

    /// <summary>Ctrl-], which detaches a client (xl console's escape).</summary>
    public const byte Detach = 0x1d;

    private readonly object _lock = new();
    private readonly byte[] _history = new byte[HistoryBytes];
    private int _historyStart;
    private int _historyCount;
    private readonly Queue<byte> _input = new();
    private readonly List<Channel<byte[]>> _clients = new();
    private bool _ended;
    private bool _everAttached;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        byte[] copy = bytes.ToArray();
        lock (_lock)
        {
            foreach (byte b in copy)
            {
                _history[(_historyStart + _historyCount) % HistoryBytes] = b;
                if (_historyCount < HistoryBytes)
                {
                    _historyCount++;
                }
                else
                {
                    _historyStart = (_historyStart + 1) % HistoryBytes;
                }
            }

            foreach (Channel<byte[]> c in _clients)
            {
                c.Writer.TryWrite(copy);
            }
        }
    }

    public int Read(Span<byte> buffer)
    {
        lock (_lock)
        {
            int n = 0;
            while (n < buffer.Length && _input.TryDequeue(out byte b))
            {
                buffer[n++] = b;
            }

            return n;
        }
    }

    /// <summary>Everything kept of the domain's output, as text.</summary>
    public string History
    {
        get
        {
            lock (_lock)
            {
                return Encoding.UTF8.GetString(HistoryBytesLocked());
            }
        }
    }

    /// <summary>Whether a client has ever attached (a domain that ended unwatched keeps its console for a late one: EndedConsoles).</summary>
    public bool EverAttached
    {
        get
        {
            lock (_lock)
            {
                return _everAttached;
            }
        }
    }

    /// <summary>Queues typed bytes for the guest (beyond <see cref="InputBytes"/> waiting, the rest is dropped).</summary>
    public void Type(ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            foreach (byte b in bytes)
            {
                if (_input.Count < InputBytes)
                {
                    _input.Enqueue(b);
                }
            }
        }
    }

    /// <summary>
    /// Serves one attached client on <paramref name="stream"/> until it closes the connection, sends Ctrl-], the domain is
    /// gone (<see cref="DetachAll"/>: the output queued for it is written first, so the guest's last words arrive) or
    /// <paramref name="cancel"/> (the daemon stops): the kept output first, then output as it comes; what it sends goes
    /// to the guest.
    /// </summary>
    public async Task AttachAsync(Stream stream, CancellationToken cancel)
    {
        var channel = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(4096) { FullMode = BoundedChannelFullMode.DropWrite });
        lock (_lock)
        {
            channel.Writer.TryWrite(HistoryBytesLocked());
            _everAttached = true;
            if (_ended)
            {
                channel.Writer.TryComplete(); // attached as the domain went: what there was, then the end
            }
            else
            {
                _clients.Add(channel);
            }
        }

        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        try
        {
            Task output = Task.Run(async () =>
            {
                await foreach (byte[] chunk in channel.Reader.ReadAllAsync(done.Token))
                {
                    await stream.WriteAsync(chunk, done.Token);
                    await stream.FlushAsync(done.Token);
                }
            });
            Task input = Task.Run(async () =>
            {
                byte[] buffer = new byte[4096];
                int got;
                while ((got = await stream.ReadAsync(buffer, done.Token)) > 0)
                {
                    int detach = Array.IndexOf(buffer, Detach, 0, got);
                    Type(buffer.AsSpan(0, detach < 0 ? got : detach));
                    if (detach >= 0)
                    {
                        return;
                    }
                }
            });
            await Task.WhenAny(output, input, Task.Delay(Timeout.Infinite, done.Token));
            done.Cancel();
            await Task.WhenAll(output, input).ContinueWith(_ => { }, TaskScheduler.Default); // their ends are expected
        }
        finally
        {
            lock (_lock)
            {
                _clients.Remove(channel);
            }

            channel.Writer.TryComplete();
        }
    }

    private byte[] HistoryBytesLocked()
    {
        byte[] copy = new byte[_historyCount];
        for (int i = 0; i < _historyCount; i++)
        {
            copy[i] = _history[(_historyStart + i) % HistoryBytes];
        }

        return copy;
    }

    /// <summary>Ends every client's session once its queued output is written (the domain is gone); later attaches get the history and the end.</summary>
    public void DetachAll()
    {
        lock (_lock)
        {
            _ended = true;
            foreach (Channel<byte[]> c in _clients)
            {
                c.Writer.TryComplete();
            }
        }
    }
}
