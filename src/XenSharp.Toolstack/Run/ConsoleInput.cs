namespace XenSharp.Toolstack.Run;

/// <summary>
/// What the user types to `xensharp run` (its standard input), for the first domain's console, as `xl console` would
/// send it: a reader thread moves bytes from the stream into a bounded buffer (it waits while the buffer is full, so a
/// guest that never reads costs at most <see cref="Capacity"/> bytes); the console backend's poll takes them out and
/// into the guest's in ring. The end of the stream ends input. The terminal stays in its own (line) mode: a line goes
/// to the guest when Enter is pressed. Invariant: <see cref="_buffer"/>, <see cref="_count"/> and
/// <see cref="_disposed"/> change only under <see cref="_lock"/>.
/// </summary>
public sealed class ConsoleInput : IDisposable
{
    public const int Capacity = 64 * 1024;

    private readonly object _lock = new();
    private readonly byte[] _buffer = new byte[Capacity];
    private int _start;
    private int _count;
    private bool _disposed;

    public ConsoleInput(Stream input)
    {
        var reader = new Thread(() => Pump(input)) { Name = "xensharp console input", IsBackground = true };
        reader.Start();
    }

    /// <summary>Takes up to <paramref name="destination"/>.Length typed bytes; 0 if there are none (never blocks).</summary>
    public int Read(Span<byte> destination)
    {
        lock (_lock)
        {
            int n = Math.Min(destination.Length, _count);
            for (int i = 0; i < n; i++)
            {
                destination[i] = _buffer[(_start + i) % Capacity];
            }

            _start = (_start + n) % Capacity;
            _count -= n;
            if (n > 0)
            {
                Monitor.PulseAll(_lock);
            }

            return n;
        }
    }

    private void Pump(Stream input)
    {
        byte[] chunk = new byte[4096];
        try
        {
            int got;
            while ((got = input.Read(chunk, 0, chunk.Length)) > 0)
            {
                lock (_lock)
                {
                    for (int i = 0; i < got; i++)
                    {
                        while (_count == Capacity && !_disposed)
                        {
                            Monitor.Wait(_lock);
                        }

                        if (_disposed)
                        {
                            return;
                        }

                        _buffer[(_start + _count) % Capacity] = chunk[i];
                        _count++;
                    }
                }
            }
        }
        catch (IOException)
        {
            // The terminal went away: no more input, the domains carry on.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            Monitor.PulseAll(_lock);
        }
    }
}
