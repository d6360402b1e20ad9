using System.Text;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Tests.Builder;

internal sealed class CapturingConsole : IConsoleSink
{
    private readonly List<byte> _bytes = new();

    public Queue<byte> Input { get; } = new();

    public string Text => Encoding.UTF8.GetString(_bytes.ToArray());

    public void Write(ReadOnlySpan<byte> bytes) => _bytes.AddRange(bytes.ToArray());

    public int Read(Span<byte> buffer)
    {
        int n = 0;
        while (n < buffer.Length && Input.TryDequeue(out byte b))
        {
            buffer[n++] = b;
        }

        return n;
    }
}
