using System.Text;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Toolstack.Run;

/// <summary>
/// A domain's console on the terminal. Alone on the terminal, what the guest writes goes out as it comes, a line
/// without its newline too (a shell's prompt); when several domains share the terminal it is line-buffered, each
/// line prefixed with the domain name. Bytes that could drive the terminal (escape sequences, other control
/// characters) are shown as '?', so a guest cannot rewrite the user's screen. Thread-safe: the console backend's loop
/// and vCPU threads (console_io) write, the session flushes.
/// </summary>
public sealed class TerminalConsole : IConsoleSink
{
    private readonly TextWriter _output;
    private readonly string? _prefix;
    private readonly object _outputLock;
    private readonly List<byte> _line = new();
    private readonly StringBuilder _transcript = new();

    private readonly ConsoleInput? _input;

    /// <summary>Unprefixed: the last byte written was a newline (or nothing was written yet).</summary>
    private bool _atLineStart = true;

    /// <param name="input">What the user types, for this domain (the session's first); null: none.</param>
    public TerminalConsole(TextWriter output, string? prefix, object outputLock, ConsoleInput? input = null)
    {
        _output = output;
        _prefix = prefix;
        _outputLock = outputLock;
        _input = input;
    }

    /// <summary>Everything the domain printed, for tests and the session's verdict.</summary>
    public string Transcript
    {
        get
        {
            lock (_line)
            {
                return _transcript.ToString();
            }
        }
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (_prefix is null)
        {
            WriteThrough(bytes);
            return;
        }

        lock (_line)
        {
            foreach (byte b in bytes)
            {
                if (b == (byte)'\n')
                {
                    EmitLine();
                }
                else if (b == (byte)'\r')
                {
                    continue;
                }
                else
                {
                    _line.Add(b is (byte)'\t' or >= 0x20 and not 0x7f ? b : (byte)'?');
                    if (_line.Count >= 4096)
                    {
                        EmitLine();
                    }
                }
            }
        }
    }

    public int Read(Span<byte> buffer) => _input?.Read(buffer) ?? 0;

    /// <summary>Ends a last line that had no newline.</summary>
    public void Flush()
    {
        lock (_line)
        {
            if (_line.Count > 0)
            {
                EmitLine();
            }
            else if (_prefix is null && !_atLineStart)
            {
                _transcript.Append('\n');
                _atLineStart = true;
                lock (_outputLock)
                {
                    _output.WriteLine();
                    _output.Flush();
                }
            }
        }
    }

    private void WriteThrough(ReadOnlySpan<byte> bytes)
    {
        lock (_line)
        {
            foreach (byte b in bytes)
            {
                if (b != (byte)'\r')
                {
                    _line.Add(b is (byte)'\t' or (byte)'\n' or >= 0x20 and not 0x7f ? b : (byte)'?');
                }
            }

            if (_line.Count == 0)
            {
                return;
            }

            string text = Encoding.UTF8.GetString(_line.ToArray());
            _atLineStart = _line[^1] == (byte)'\n';
            _line.Clear();
            _transcript.Append(text);
            lock (_outputLock)
            {
                _output.Write(text);
                _output.Flush();
            }
        }
    }

    private void EmitLine()
    {
        string text = Encoding.UTF8.GetString(_line.ToArray());
        _line.Clear();
        _transcript.Append(text).Append('\n');
        lock (_outputLock)
        {
            _output.WriteLine(_prefix is null ? text : $"[{_prefix}] {text}");
            _output.Flush();
        }
    }
}
