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

    public KvmHost(ulong poolBytes = DefaultPoolBytes)
    {
        Hypervisor = XenHypervisor.CreateOnKvm(poolBytes, new HypervisorLog(LogWriter));
    }

    public XenHypervisor Hypervisor { get; }

    /// <summary>The hypervisor log ("(XEN) ..." lines).</summary>
    public LockedStringWriter LogWriter { get; } = new();

    /// <summary>What a run session printed to its "terminal" (prefixed with "[name] " when it runs several domains).</summary>
    public LockedStringWriter Console { get; } = new();

    public string Log => LogWriter.Text;

    /// <summary>
    /// Runs the domains as `xensharp run` does; <paramref name="domainTimeout"/> is --timeout, and the whole run is bounded
    /// too. <paramref name="store"/>: the xenstored to introduce them to (null: the session's own).
    /// </summary>
    public Task<IReadOnlyList<DomainOutcome>> RunAsync(IReadOnlyList<DomainConfig> configs, TimeSpan domainTimeout, TimeSpan? guard = null, XenStore? store = null)
    {
        var session = new RunSession(Hypervisor, configs, Console, new RunOptions { Timeout = domainTimeout }, store);
        return Limits.Within(session.RunAsync(), guard ?? domainTimeout + Limits.Generous, "the run session");
    }

    public void Dispose()
    {
        Task dispose = Task.Run(Hypervisor.Dispose);
        if (!dispose.Wait(Limits.Generous))
        {
            throw new TimeoutException($"disposing the hypervisor (destroying its domains) took more than {Limits.Generous.TotalSeconds} s");
        }
    }
}

/// <summary>Time limits: no test waits for ever.</summary>
public static class Limits
{
    /// <summary>For things that take milliseconds when the product works.</summary>
    public static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    public static async Task<T> Within<T>(Task<T> task, TimeSpan limit, string what)
    {
        try
        {
            return await task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{what} did not finish within {limit.TotalSeconds:0.#} s");
        }
    }

    public static async Task Within(Task task, TimeSpan limit, string what)
    {
        try
        {
            await task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{what} did not finish within {limit.TotalSeconds:0.#} s");
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="limit"/> passes.</summary>
    public static async Task Until(Func<bool> condition, TimeSpan limit, string what)
    {
        DateTime end = DateTime.UtcNow + limit;
        while (!condition())
        {
            if (DateTime.UtcNow > end)
            {
                throw new TimeoutException($"{what} did not happen within {limit.TotalSeconds:0.#} s");
            }

            await Task.Delay(20);
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
