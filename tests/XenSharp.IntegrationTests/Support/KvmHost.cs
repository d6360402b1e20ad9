using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Logging;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Run;

namespace XenSharp.IntegrationTests.Support;

/// <summary>
/// One in-process hypervisor on /dev/kvm with a small pool, its log and the session console captured in memory.
/// Each test class keeps its hypervisors to itself. Dispose destroys whatever domain is left, with a time limit.
/// </summary>
public sealed class KvmHost : IDisposable
{
    public const ulong DefaultPoolBytes = 512UL << 20;

    /// <param name="pcpus">The scheduler's physical-CPU slots (default: the host's cores).</param>
    public KvmHost(ulong poolBytes = DefaultPoolBytes, int? pcpus = null)
    {
        Hypervisor = XenHypervisor.CreateOnKvm(poolBytes, new HypervisorLog(LogWriter), pcpus);
    }

    public XenHypervisor Hypervisor { get; }

    /// <summary>The hypervisor log ("(XEN) ..." lines).</summary>
    public LockedStringWriter LogWriter { get; } = new();

    /// <summary>What a run session printed to its "terminal" (prefixed with "[name] " when it runs several domains).</summary>
    public LockedStringWriter Console { get; } = new();

    public string Log => LogWriter.Text;

    /// <summary>
    /// Runs the domains as `xensharp run` does; <paramref name="domainTimeout"/> is --timeout, and the whole run is bounded
    /// too, <see cref="Limits.Generous"/> beyond it (so the run's timeout comes first). <paramref name="store"/>: the
    /// xenstored to introduce them to (null: the session's own).
    /// </summary>
    public Task<IReadOnlyList<DomainOutcome>> RunAsync(IReadOnlyList<DomainConfig> configs, TimeSpan domainTimeout, XenStore? store = null)
    {
        var session = new RunSession(Hypervisor, configs, Console, new RunOptions { Timeout = domainTimeout }, store);
        return Limits.Within(session.RunAsync(), domainTimeout + Limits.Generous, "the run session");
    }

    public void Dispose()
    {
        Task dispose = Task.Run(Hypervisor.Dispose);
        if (!dispose.Wait(Limits.Generous))
        {
            throw new TimeoutException($"disposing the hypervisor (destroying its domains) took more than {Limits.Describe(Limits.Generous)}");
        }
    }
}

/// <summary>Domain configs for the C test guests.</summary>
public static class Guests
{
    public const int MemoryMiB = 32;

    public static DomainConfig Config(string name, string guest, string commandLine = "") => new()
    {
        Name = name,
        Kernel = RepoPaths.Guest(guest),
        MemoryMiB = MemoryMiB,
        CommandLine = commandLine,
    };

    public static DomainConfig Hostile(string name, string mode) => Config(name, "hostile", $"hostile={mode}");

    /// <summary>The console lines of a transcript or log, without the empty string after the last newline.</summary>
    public static string[] Lines(string text) => (text.EndsWith('\n') ? text[..^1] : text) is { Length: > 0 } t ? t.Split('\n') : [];

    public const string Greeting = "Hello, world! This is a Xen PV guest on XenSharp.";

    public const string Success = "Test result: SUCCESS";
}
