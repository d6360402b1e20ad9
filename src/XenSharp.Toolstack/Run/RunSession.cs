using XenSharp.Abi;
using XenSharp.Backends.Console;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Dom0;
using XenSharp.Hypervisor.Domains;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Image;
using XenSharp.Toolstack.Store;

namespace XenSharp.Toolstack.Run;

/// <summary>
/// `xensharp run`: builds every configured domain in one hypervisor, attaches their consoles to the terminal, waits
/// for each to end, applies its on_poweroff/on_reboot/on_crash action, and turns the endings into an exit status
/// (the largest per-domain code: 0 poweroff, 1 crash, 3 reboot without restart, 124 timeout).
/// The session is domain 0's toolstack: it runs the store every domain is introduced to, writes each domain's xenstore
/// nodes as xl does before the domain starts and removes them when it ends.
/// </summary>
public sealed class RunSession
{
    private readonly XenHypervisor _hypervisor;
    private readonly IReadOnlyList<DomainConfig> _configs;
    private readonly TextWriter _output;
    private readonly RunOptions _options;
    private readonly object _outputLock = new();
    private readonly XsClient _dom0;

    /// <param name="store">The store to introduce domains to; null: a new one for this session.</param>
    public RunSession(XenHypervisor hypervisor, IReadOnlyList<DomainConfig> configs, TextWriter output, RunOptions options, XenStore? store = null)
    {
        _hypervisor = hypervisor;
        _configs = configs;
        _output = output;
        _options = options;
        Store = store ?? new XenStore(hypervisor.Log, domid => domid == 0 || hypervisor.Control.List().Contains((ushort)domid));
        _dom0 = Store.Connect(0);
        XlStoreNodes.WriteDom0(_dom0);
    }

    /// <summary>xenstored for the session's domains.</summary>
    public XenStore Store { get; }

    /// <summary>Reads each kernel (and ramdisk) up front, so a bad file fails the run before any domain starts.</summary>
    public static IReadOnlyList<BuildRequest> Prepare(IReadOnlyList<DomainConfig> configs) =>
        configs.Select(c => new BuildRequest(
            c.Name,
            KernelImage.Load(c.Kernel),
            c.MemoryMiB,
            c.Vcpus,
            c.CommandLine,
            c.Ramdisk is null ? null : ReadRamdisk(c.Ramdisk),
            c.Scheduling)).ToList();

    public async Task<IReadOnlyList<DomainOutcome>> RunAsync()
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

    /// <summary>
    /// Builds a domain, writes its xenstore nodes, introduces it to the store and connects its PV console ring to the
    /// terminal: console_io and the ring both print through <paramref name="mux"/>. Each backend serves its ring on its own
    /// thread: the guest's notification wakes it, and the console's also polls every 10 ms for input and unnotified output.
    /// </summary>
    private (ushort Domain, DomainBackends Backends) Build(DomainConfig config, BuildRequest request, ConsoleMux mux)
    {
        ushort d = PvDomainBuilder.Build(_hypervisor, request, mux.Hypercall, out DomainRings rings);
        var backends = new DomainBackends(Store, _dom0, d);
        try
        {
            XsError e = XlStoreNodes.Write(_dom0, d, _hypervisor.Control.GetInfo(d).Handle, config, rings, DateTime.UtcNow);
            if (e != XsError.None)
            {
                throw new DomainBuildException($"{config.Name}: cannot write the domain's xenstore nodes: {e}");
            }

            backends.Store = XenstoreBackend.Attach(Store, _hypervisor, d, rings.StoreMfn, rings.StorePort);
            backends.Console = ConsoleBackend.Attach(_hypervisor, d, rings.ConsoleMfn, rings.ConsolePort, mux.Ring);
            backends.Devices = Devices.DeviceSetup.Attach(_hypervisor, Store, _dom0, d, config);
            return (d, backends);
        }
        catch
        {
            backends.Dispose();
            _hypervisor.Control.Destroy(d);
            throw;
        }
    }

    /// <summary>Disconnects the backends (the console drained, the store told) before the domain's frames are freed, then destroys the domain.</summary>
    private void Destroy(ushort domain, DomainBackends backends)
    {
        backends.Dispose();
        _hypervisor.Control.Destroy(domain);
    }

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
            (string ending, ShutdownAction action, int code) = info.State == DomainState.Crashed
                ? ($"crashed: {info.CrashReason}", config.OnCrash, DomainOutcome.Crashed)
                : info.ShutdownReason switch
                {
                    ShutdownReason.Poweroff => ("powered off", config.OnPoweroff, DomainOutcome.Poweroff),
                    ShutdownReason.Reboot => ("rebooted", config.OnReboot, DomainOutcome.Rebooted),
                    ShutdownReason.Crash => ("crashed (reported by the guest)", config.OnCrash, DomainOutcome.Crashed),
                    ShutdownReason.SoftReset => ("soft reset", config.OnReboot, DomainOutcome.Rebooted),
                    ShutdownReason.Watchdog => ("watchdog expired", config.OnCrash, DomainOutcome.Crashed),
                    _ => ("ended", ShutdownAction.Destroy, DomainOutcome.Other),
                };

            if (action is ShutdownAction.Restart or ShutdownAction.RenameRestart or ShutdownAction.CoredumpRestart or ShutdownAction.SoftReset
                && restarts < _options.MaxRestarts && DateTime.UtcNow < deadline)
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

    /// <summary>A crashed domain's last console lines, each as "(XEN) NAME console: LINE", after its verdict.</summary>
    private void LogConsoleTail(string name, string transcript)
    {
        foreach (string line in ConsoleTail.LastLines(transcript, ConsoleTail.CrashLines))
        {
            _hypervisor.Log.Write($"{name} console: {line}");
        }
    }

    private static byte[] ReadRamdisk(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw new DomainBuildException($"{path}: cannot read ramdisk: {e.Message}");
        }
        catch (UnauthorizedAccessException)
        {
            throw new DomainBuildException($"{path}: no permission to read the ramdisk");
        }
    }
}
