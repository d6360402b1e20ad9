namespace XenSharp.Hypervisor.Domains;

/// <summary>Where a domain's console bytes go (the terminal, a log, a test buffer), and where its input comes from.</summary>
public interface IConsoleSink
{
    void Write(ReadOnlySpan<byte> bytes);

    /// <summary>Copies pending input into <paramref name="buffer"/> without blocking; returns the number of bytes.</summary>
    int Read(Span<byte> buffer);
}
