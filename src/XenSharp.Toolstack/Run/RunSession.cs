using XenSharp.Backends.Console;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Dom0;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;

namespace XenSharp.Toolstack.Run;

/// <summary>
/// `xensharp run`: builds every configured domain in one hypervisor, attaches their consoles to the terminal, waits
/// for each to end, applies its on_poweroff/on_reboot/on_crash action, and turns the endings into an exit status
/// (the largest per-domain code: 0 poweroff, 1 crash, 3 reboot without restart, 124 timeout).
/// The session is domain 0's toolstack: it runs the store every domain is introduced to, writes each domain's xenstore
/// nodes as xl does before the domain starts and removes them when it ends. A session runs once: its end closes the
/// host's uplinks.
/// </summary>
public sealed class RunSession
{
    private readonly XenHypervisor _hypervisor;
    private readonly IReadOnlyList<DomainConfig> _configs;
    private readonly TextWriter _output;
    private readonly RunOptions _options;
    private readonly object _outputLock = new();
    private readonly DomainHost _host;

    /// <param name="store">The store to introduce domains to; null: a new one for this session.</param>
    public RunSession(XenHypervisor hypervisor, IReadOnlyList<DomainConfig> configs, TextWriter output, RunOptions options, XenStore? store = null)
    {
        _hypervisor = hypervisor;
        _configs = configs;
        _output = output;
        _options = options;
        _host = new DomainHost(hypervisor, store);
    }

    /// <summary>xenstored for the session's domains.</summary>
    public XenStore Store => _host.Store;

    /// <summary>Reads each kernel (and ramdisk) up front, so a bad file fails the run before any domain starts.</summary>
    public static IReadOnlyList<BuildRequest> Prepare(IReadOnlyList<DomainConfig> configs) => configs.Select(DomainHost.Prepare).ToList();

    /// <summary>Runs every domain to its end; then the session is over: its uplinks are closed (<see cref="DomainHost.Dispose"/>).</summary>
    public async Task<IReadOnlyList<DomainOutcome>> RunAsync()
    {
        try
        {
            return await RunDomainsAsync();
        }
        finally
        {
            _host.Dispose();
        }
    }

    private async Task<IReadOnlyList<DomainOutcome>> RunDomainsAsync()
    {
        IReadOnlyList<BuildRequest> requests = Prepare(_configs);
        using StoreSocketServer? socket = _options.XenstoreSocket is { } path ? StoreSocketServer.Start(Store, path) : null;
        DateTime deadline = _options.Timeout is { } t ? DateTime.UtcNow + t : DateTime.MaxValue;
        bool prefix = _configs.Count > 1;
        using ConsoleInput? input = _options.Input is { } stream ? new ConsoleInput(stream) : null;
        var tasks = new List<Task<DomainOutcome>>();
        for (int i = 0; i < _configs.Count; i++)
        {
            var console = new TerminalConsole(_output, prefix ? _configs[i].Name : null, _outputLock, i == 0 ? input : null);
            var mux = new ConsoleMux(console);
            (ushort d, DomainBackends backends) = Build(_configs[i], requests[i], mux);
            tasks.Add(Supervise(_configs[i], requests[i], d, backends, mux, console, deadline));
        }

        return await Task.WhenAll(tasks);
    }

    public static int ExitCode(IEnumerable<DomainOutcome> outcomes) => outcomes.Select(o => o.ExitCode).DefaultIfEmpty(0).Max();

    /// <summary>Builds a domain and attaches its backends (<see cref="DomainHost.Build"/>), its console on the terminal through <paramref name="mux"/>.</summary>
    private (ushort Domain, DomainBackends Backends) Build(DomainConfig config, BuildRequest request, ConsoleMux mux) => _host.Build(config, request, mux);

    private void Destroy(ushort domain, DomainBackends backends) => _host.Destroy(domain, backends);

    private async Task<DomainOutcome> Supervise(DomainConfig config, BuildRequest request, ushort domain, DomainBackends backend, ConsoleMux mux, TerminalConsole console, DateTime deadline)
    {
        int restarts = 0;
        while (true)
        {
            try
            {
                _hypervisor.Control.Start(domain);
            }
            catch
            {
                backend.Dispose();
                throw;
            }

            Task ended = _hypervisor.Control.WhenEnded(domain);
            TimeSpan left = deadline == DateTime.MaxValue ? Timeout.InfiniteTimeSpan : deadline - DateTime.UtcNow;
            if (left != Timeout.InfiniteTimeSpan && left < TimeSpan.Zero)
            {
                left = TimeSpan.Zero;
            }

            if (await Task.WhenAny(ended, Task.Delay(left)) != ended)
            {
                _hypervisor.Log.Domain(domain, $"{config.Name}: still running after {_options.Timeout!.Value.TotalSeconds:0.#} s: destroyed");
                foreach (string line in _hypervisor.Control.DescribeVcpus(domain))
                {
                    _hypervisor.Log.Write(line);
                }

                Destroy(domain, backend);
                console.Flush();
                return new DomainOutcome(config.Name, "timed out", DomainOutcome.TimedOut, console.Transcript);
            }

            DomainInfo info = _hypervisor.Control.GetInfo(domain);
            Destroy(domain, backend);
            console.Flush();
            (string ending, ShutdownAction action, int code) = DomainHost.Ending(info, config);

            if (DomainHost.Restarts(action) && restarts < _options.MaxRestarts && DateTime.UtcNow < deadline)
            {
                restarts++;
                _hypervisor.Log.Write($"{config.Name}: {ending}; restarting ({restarts}/{_options.MaxRestarts})");
                if (code == DomainOutcome.Crashed)
                {
                    LogConsoleTail(config.Name, console.Transcript);
                }

                (domain, backend) = Build(config, request, mux);
                continue;
            }

            _hypervisor.Log.Write($"{config.Name}: {ending}");
            if (code == DomainOutcome.Crashed)
            {
                LogConsoleTail(config.Name, console.Transcript);
            }

            return new DomainOutcome(config.Name, ending, code, console.Transcript);
        }
    }

    private void LogConsoleTail(string name, string transcript) => _host.LogConsoleTail(name, transcript);
}
