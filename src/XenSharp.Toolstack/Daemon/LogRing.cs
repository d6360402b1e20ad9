using System.Text;
using Microsoft.Extensions.Logging;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// The hypervisor's console ring as `xl dmesg` reads it: the writer the daemon's <see cref="Hypervisor.Logging.HypervisorLog"/>
/// writes to. Each whole line is kept (the last <see cref="Capacity"/>) and passed on to the daemon's log file at
/// Information. Invariant: <see cref="_lines"/> and <see cref="_partial"/> change only under <see cref="_lock"/>.
/// </summary>
public sealed class LogRing(ILogger log, int capacity = LogRing.DefaultCapacity) : TextWriter
{
    public const int DefaultCapacity = 2000;

    private readonly object _lock = new();
    private readonly Queue<string> _lines = new();
    private readonly StringBuilder _partial = new();

    public int Capacity { get; } = capacity;

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        string? line = null;
        lock (_lock)
        {
            if (value == '\n')
            {
                line = _partial.ToString().TrimEnd('\r');
                _partial.Clear();
                _lines.Enqueue(line);
                while (_lines.Count > Capacity)
                {
                    _lines.Dequeue();
                }
            }
            else
            {
                _partial.Append(value);
            }
        }

        if (line is not null)
        {
            log.LogInformation("{Line}", line);
        }
    }

    public override void Write(string? value)
    {
        foreach (char c in value ?? "")
        {
            Write(c);
        }
    }

    public override void WriteLine(string? value)
    {
        Write(value);
        Write('\n');
    }

    /// <summary>The kept lines, oldest first; <paramref name="clear"/> empties the ring after (xl dmesg -c).</summary>
    public IReadOnlyList<string> Lines(bool clear = false)
    {
        lock (_lock)
        {
            string[] lines = _lines.ToArray();
            if (clear)
            {
                _lines.Clear();
            }

            return lines;
        }
    }
}
