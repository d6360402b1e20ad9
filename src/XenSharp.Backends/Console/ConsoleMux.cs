using XenSharp.Hypervisor.Domains;

namespace XenSharp.Backends.Console;

/// <summary>
/// Lets CONSOLEIO_write (the hypercall console) and the PV console ring feed one <see cref="IConsoleSink"/> without
/// printing everything twice. Give <see cref="Hypercall"/> to the domain (console_io writes there) and
/// <see cref="Ring"/> to the <see cref="ConsoleBackend"/>.
/// <para>
/// Guests that use both channels write the same text to each: XTF sends every line to console_io and then to the ring,
/// Linux's hvc console replays what its early console_io console printed, and Mini-OS writes every line to both (to
/// the ring with LF as CRLF). So the last <see cref="EchoLimit"/> bytes written through console_io are remembered, and
/// ring output that repeats them — byte for byte, in order, a CR the ring adds before an LF aside — is consumed
/// silently. Where a ring line differs, the echo is searched for a later line that starts as the whole ring line does
/// (the guest printed something through console_io only; lines often share a prefix); if there is none, a whole ring
/// line is printed and matching goes on with the next ring line at the same place in the echo (the guest wrote that
/// line to the ring only), while a line that goes on past the batch makes the echo forgotten and the ring's bytes be
/// printed from the start of that line on (from the difference if the line began in an earlier batch). A guest that uses only one channel has every byte printed exactly once.
/// Both sides read input from the same sink. Thread-safe: console_io runs on vCPU threads, the ring on the backend's.
/// </para>
/// </summary>
public sealed class ConsoleMux
{
    public const int EchoLimit = 8192;

    private readonly object _lock = new();
    private readonly IConsoleSink _target;
    private readonly byte[] _echo = new byte[EchoLimit];
    private int _echoLength;
    private int _echoPos; // bytes before this were matched by the ring (or skipped)
    private bool _ringAtLineStart = true;

    public ConsoleMux(IConsoleSink target)
    {
        _target = target;
        Hypercall = new Side(this, ring: false);
        Ring = new Side(this, ring: true);
    }

    /// <summary>The sink for console_io: the domain's <see cref="Domain.Console"/>.</summary>
    public IConsoleSink Hypercall { get; }

    /// <summary>The sink for the ring backend.</summary>
    public IConsoleSink Ring { get; }

    private void WriteHypercall(ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            _target.Write(bytes);
            if (bytes.Length >= EchoLimit)
            {
                bytes[^EchoLimit..].CopyTo(_echo);
                _echoLength = EchoLimit;
                _echoPos = 0;
                return;
            }

            int keep = Math.Min(_echoLength - _echoPos, EchoLimit - bytes.Length); // drop matched bytes, then the oldest
            _echo.AsSpan(_echoLength - keep, keep).CopyTo(_echo);
            bytes.CopyTo(_echo.AsSpan(keep));
            _echoLength = keep + bytes.Length;
            _echoPos = 0;
        }
    }

    private void WriteRing(ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            int i = 0;
            int lineStart = _ringAtLineStart ? 0 : -1; // where the current ring line began in this batch; -1: earlier
            int echoLineStart = _echoPos;
            while (i < bytes.Length && _echoPos < _echoLength)
            {
                if (_echo[_echoPos] == bytes[i])
                {
                    _echoPos++;
                    i++;
                    if (bytes[i - 1] == (byte)'\n')
                    {
                        lineStart = i;
                        echoLineStart = _echoPos;
                    }

                    continue;
                }

                if (IsLineEndCr(bytes, i) && _echo[_echoPos] == (byte)'\n')
                {
                    i++; // the ring's own CR before the LF console_io also had: part of the echo
                    continue;
                }

                if (lineStart < 0)
                {
                    break; // the line began in an earlier batch: print from the difference
                }

                // Lines often share a prefix ("consdup: ..."): look for the whole ring line, from its start, further on.
                i = lineStart;
                _echoPos = echoLineStart;
                int lineEnd = bytes[i..].IndexOf((byte)'\n');
                ReadOnlySpan<byte> ringLine = lineEnd < 0 ? bytes[i..] : bytes.Slice(i, lineEnd + 1);
                if (!SkipToLineStartingWith(ringLine))
                {
                    if (lineEnd < 0)
                    {
                        break; // an unmatched line that goes on in a later batch: print from here, echo forgotten
                    }

                    // A whole line console_io never had (the guest wrote it to the ring only): print it, and go on
                    // matching the next ring line against the same place in the echo.
                    _target.Write(ringLine);
                    i += ringLine.Length;
                    lineStart = i;
                }

                echoLineStart = _echoPos;
            }

            if (i < bytes.Length)
            {
                _echoPos = _echoLength = 0;
                _target.Write(bytes[i..]);
            }

            if (bytes.Length > 0)
            {
                _ringAtLineStart = bytes[^1] == (byte)'\n';
            }
        }
    }

    /// <summary>
    /// A CR that ends a line on the ring (followed by LF, or last in this batch: the LF may come in the next one).
    /// Mini-OS writes each line to console_io as is and to the ring with LF turned into CRLF, as a terminal wants it.
    /// </summary>
    private static bool IsLineEndCr(ReadOnlySpan<byte> bytes, int i) =>
        bytes[i] == (byte)'\r' && (i + 1 == bytes.Length || bytes[i + 1] == (byte)'\n');

    /// <summary>Moves the match position to the next echoed line that begins with <paramref name="ring"/> (as far as both go).</summary>
    private bool SkipToLineStartingWith(ReadOnlySpan<byte> ring)
    {
        for (int k = _echoPos + 1; k < _echoLength; k++)
        {
            if (_echo[k - 1] != (byte)'\n')
            {
                continue;
            }

            if (EchoAtStartsWith(k, ring))
            {
                _echoPos = k;
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether the echo from <paramref name="k"/> and <paramref name="ring"/> agree as far as both go (ring CRs before LFs aside).</summary>
    private bool EchoAtStartsWith(int k, ReadOnlySpan<byte> ring)
    {
        int r = 0;
        while (r < ring.Length && k < _echoLength)
        {
            if (_echo[k] == ring[r])
            {
                k++;
                r++;
            }
            else if (_echo[k] == (byte)'\n' && IsLineEndCr(ring, r))
            {
                r++;
            }
            else
            {
                return false;
            }
        }

        return true;
    }

    private int Read(Span<byte> buffer)
    {
        lock (_lock)
        {
            return _target.Read(buffer);
        }
    }

    private sealed class Side(ConsoleMux mux, bool ring) : IConsoleSink
    {
        public void Write(ReadOnlySpan<byte> bytes)
        {
            if (ring)
            {
                mux.WriteRing(bytes);
            }
            else
            {
                mux.WriteHypercall(bytes);
            }
        }

        public int Read(Span<byte> buffer) => mux.Read(buffer);
    }
}
