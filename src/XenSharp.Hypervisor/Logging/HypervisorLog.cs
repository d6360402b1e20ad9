namespace XenSharp.Hypervisor.Logging;

/// <summary>
/// The hypervisor's diagnostic log (stderr by default). Every line names the domain and, where there is one, the vCPU:
/// "(d1v0) message". Rate limiting is per key so a hostile guest cannot flood the host.
/// </summary>
public sealed class HypervisorLog
{
    private readonly TextWriter _writer;
    private readonly Dictionary<string, int> _counts = new();
    private readonly object _lock = new();

    public HypervisorLog(TextWriter writer) => _writer = writer;

    public static HypervisorLog Stderr { get; } = new(Console.Error);

    public int RateLimit { get; init; } = 10;

    public void Write(string line)
    {
        lock (_lock)
        {
            _writer.WriteLine($"(XEN) {line}");
            _writer.Flush();
        }
    }

    public void Domain(int domid, string message) => Write($"(d{domid}) {message}");

    public void Vcpu(int domid, int vcpu, string message) => Write($"(d{domid}v{vcpu}) {message}");

    /// <summary>Logs at most <see cref="RateLimit"/> lines per key, then one "suppressing" line.</summary>
    public void Limited(string key, string line)
    {
        int n;
        lock (_lock)
        {
            _counts.TryGetValue(key, out n);
            _counts[key] = n + 1;
        }

        if (n < RateLimit)
        {
            Write(line);
        }
        else if (n == RateLimit)
        {
            Write($"{line} (further messages like this are suppressed)");
        }
    }
}
