using System.Diagnostics;
using System.Text;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Bench;

/// <summary>
/// A console sink that stamps each line with <see cref="Stopwatch.GetTimestamp"/> when the guest's write ending it
/// arrives. Writes come from the vCPU thread inside the console_io hypercall, so a stamp is taken while the guest is
/// stopped in that hypercall. Thread-safe: the vCPU thread writes, the bench reads after the domain ended.
/// </summary>
public sealed class TimedConsole : IConsoleSink
{
    private readonly object _lock = new();
    private readonly List<byte> _line = new();
    private readonly List<TimedLine> _lines = new();
    private long _firstByte;

    /// <summary>Timestamp of the first write with at least one byte; 0 if nothing was written.</summary>
    public long FirstByte
    {
        get
        {
            lock (_lock)
            {
                return _firstByte;
            }
        }
    }

    public IReadOnlyList<TimedLine> Lines
    {
        get
        {
            lock (_lock)
            {
                return _lines.ToArray();
            }
        }
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        long now = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            if (_firstByte == 0 && !bytes.IsEmpty)
            {
                _firstByte = now;
            }

            foreach (byte b in bytes)
            {
                if (b == (byte)'\n')
                {
                    _lines.Add(new TimedLine(now, Encoding.UTF8.GetString(_line.ToArray())));
                    _line.Clear();
                }
                else if (b != (byte)'\r')
                {
                    _line.Add(b);
                }
            }
        }
    }

    public int Read(Span<byte> buffer) => 0;

    /// <summary>Timestamp of the first line equal to <paramref name="text"/>.</summary>
    public long TimeOf(string text) =>
        Lines.FirstOrDefault(l => l.Text == text) is { Text: not null } line
            ? line.Timestamp
            : throw new BenchException($"the guest never printed the line \"{text}\"; its console was:\n{Transcript}");

    public string Transcript => string.Join('\n', Lines.Select(l => l.Text));
}
