using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using XenSharp.Abi;
using XenSharp.Backends.Console;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Dom0;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Scheduling;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Run;
using XenSharp.Toolstack.Store;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// The daemon's domain 0: one hypervisor holding many domains, driven by control requests (docs/toolstack.md). It
/// builds domains with <see cref="DomainHost"/> as `xensharp run` does, supervises each (on_poweroff, on_reboot,
/// on_crash), and answers xl's verbs. Invariants: <see cref="_domains"/> maps each live instance's id to its domain and
/// changes only under <see cref="_lock"/>; a domain's lifecycle (start, pause, end, destroy) runs under its own
/// <see cref="ManagedDomain.Lock"/>, never under <see cref="_lock"/>. The host's uplinks (vifs' `bridge=`) stay open
/// until <see cref="Dispose"/>, after the daemon has stopped serving and its domains are gone.
/// </summary>
public sealed partial class DaemonToolstack : IDisposable
{
    /// <summary>libxl's ERROR_INVAL, which xl prints for a name or id that names no domain.</summary>
    public const int ErrorInval = -6;

    private readonly XenHypervisor _hv;
    private readonly DomainHost _host;
    private readonly LogRing _ring;
    private readonly ILogger _log;
    private readonly DaemonSettings _settings;
    private readonly object _lock = new();
    private readonly Dictionary<ushort, ManagedDomain> _domains = new();
    private readonly HashSet<string> _building = new(); // names being created, not yet in _domains
    private readonly EndedConsoles _endedConsoles = new();
    private readonly DateTime _started = DateTime.UtcNow;

    public DaemonToolstack(XenHypervisor hypervisor, LogRing ring, ILogger log, DaemonSettings settings)
    {
        _hv = hypervisor;
        _ring = ring;
        _log = log;
        _settings = settings;
        _host = new DomainHost(hypervisor);
    }

    /// <summary>xenstored for the daemon's domains.</summary>
    public Backends.Xenstore.XenStore Store => _host.Store;

    /// <summary>The host's VFR uplinks, by TAP name (a vif's `bridge=`).</summary>
    public IReadOnlyDictionary<string, Backends.Net.TapUplink> Uplinks => _host.Uplinks.Open;

    /// <summary>The daemon is done: the host's uplinks closed (their TAPs go unless the host made them persistent).</summary>
    public void Dispose() => _host.Dispose();

    /// <summary>The ids of the domains held now.</summary>
    public IReadOnlyList<ushort> DomainIds
    {
        get
        {
            lock (_lock)
            {
                return _domains.Keys.Order().ToArray();
            }
        }
    }

    /// <summary>Answers one control request (docs/toolstack.md lists the verbs and their fields).</summary>
    public async Task<ControlReply> HandleAsync(JsonObject request, CancellationToken cancel)
    {
        string verb = Text(request, "verb") ?? "";
        try
        {
            return verb switch
            {
                "create" => Create(request),
                "list" => List(request),
                "destroy" => Destroy(Resolve(request)),
                "shutdown" => await Shutdown(Resolve(request), reboot: false, request["wait"]?.GetValue<bool>() == true, cancel),
                "reboot" => await Shutdown(Resolve(request), reboot: true, request["wait"]?.GetValue<bool>() == true, cancel),
                "wait" => await Wait(Resolve(request), cancel),
                "pause" => Pause(Resolve(request)),
                "unpause" => Unpause(Resolve(request)),
                "mem-set" => Memory(Resolve(request), request, maximum: false),
                "mem-max" => Memory(Resolve(request), request, maximum: true),
                "domid" => DomId(request),
                "domname" => DomName(request),
                "info" => ControlReply.Ok(new JsonObject { ["fields"] = Info() }),
                "uptime" => Uptime(request),
                "dmesg" => ControlReply.Ok(new JsonObject { ["lines"] = new JsonArray([.. _ring.Lines(request["clear"]?.GetValue<bool>() == true).Select(l => (JsonNode)l)]) }),
                "vcpu-list" => VcpuList(request),
                "sched-bvt" => SchedBvt(request),
                "console" => Console(request),
                "rename" => Rename(Resolve(request), Text(request, "name") ?? throw new DaemonException("the request gives no name")),
                "sysrq" => Sysrq(Resolve(request), Text(request, "key") ?? ""),
                "vcpu-set" => VcpuSet(Resolve(request), request),
                "vcpu-pin" => VcpuPin(Resolve(request), request),
                "block-list" => DeviceList(request, "vbd", DeviceNodes.Disk),
                "network-list" => DeviceList(request, "vif", DeviceNodes.Nic),
                "block-attach" => BlockAttach(Resolve(request), request),
                "block-detach" => await BlockDetach(Resolve(request), request),
                "network-attach" => NetworkAttach(Resolve(request), request),
                "network-detach" => await NetworkDetach(Resolve(request), request),
                _ => ControlReply.Error(verb.Length == 0 ? "the request names no verb" : $"unknown verb '{verb}'"),
            };
        }
        catch (DaemonException e)
        {
            return ControlReply.Error(e.Message);
        }
        catch (Devices.DeviceException e)
        {
            return ControlReply.Error(e.Message);
        }
        catch (InvalidOperationException e) when (e.Message.Contains("no KVM machine", StringComparison.Ordinal))
        {
            return ControlReply.Error(e.Message);
        }
        catch (ArgumentException e) when (e.ParamName == "domid")
        {
            return ControlReply.Error("the domain is gone");
        }
    }

    private static string? Text(JsonObject request, string key) =>
        request[key] is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    /// <summary>A domain by name or numeric id, as xl's find_domain; unknown is xl's one line.</summary>
    private ManagedDomain Resolve(JsonObject request) =>
        Find(Text(request, "domain") ?? throw new DaemonException("the request names no domain"))
        ?? throw new DaemonException($"{Text(request, "domain")} is an invalid domain identifier (rc={ErrorInval})");

    public ManagedDomain? Find(string domain)
    {
        lock (_lock)
        {
            if (domain.Length > 0 && domain.All(char.IsAsciiDigit))
            {
                return ushort.TryParse(domain, NumberStyles.None, CultureInfo.InvariantCulture, out ushort id) ? _domains.GetValueOrDefault(id) : null;
            }

            return _domains.Values.FirstOrDefault(m => m.Name == domain);
        }
    }

    private ControlReply Create(JsonObject request)
    {
        string text = Text(request, "config") ?? throw new DaemonException("create: the request carries no config");
        string path = Text(request, "path") ?? "config";
        var overrides = (request["overrides"] as JsonArray ?? []).Select(n => n?.GetValue<string>() ?? "").ToList();
        bool paused = request["paused"]?.GetValue<bool>() == true;
        DomainConfig config;
        BuildRequest build;
        try
        {
            config = XlConfigParser.Parse(overrides.Count == 0 ? text : text + "\n" + string.Join("\n", overrides) + "\n", path);
            build = DomainHost.Prepare(config);
        }
        catch (Exception e) when (e is ConfigException or Image.KernelImageException or DomainBuildException)
        {
            throw new DaemonException(e.Message);
        }

        var m = new ManagedDomain(config, build);
        lock (_lock)
        {
            if (_domains.Values.Any(d => d.Name == config.Name) || !_building.Add(config.Name))
            {
                throw new DaemonException($"domain with name \"{config.Name}\" already exists");
            }
        }

        try
        {
            lock (m.Lock)
            {
                BuildInstance(m);
                if (!paused)
                {
                    StartInstance(m);
                }
            }
        }
        catch (Exception e)
        {
            lock (m.Lock)
            {
                m.Dying = true;
                if (m.Backends is not null)
                {
                    DestroyInstance(m);
                }
            }

            _log.LogWarning("create {Name} failed: {Error}", config.Name, e.Message);
            throw new DaemonException(e is Hypervisor.Memory.OutOfPoolException ? $"{config.Name}: not enough free memory in the machine pool: {e.Message}" : e.Message);
        }
        finally
        {
            lock (_lock)
            {
                _building.Remove(config.Name);
            }
        }

        _log.LogInformation("created {Name} as domain {Id}{Paused}", m.Name, m.Id, paused ? " (paused)" : "");
        return ControlReply.Ok(new JsonObject
        {
            ["domid"] = m.Id,
            ["name"] = m.Name,
            ["warnings"] = new JsonArray([.. config.Warnings.Select(w => (JsonNode)w)]),
        });
    }

    /// <summary>Builds a new instance of <paramref name="m"/> and registers its id. Under m.Lock.</summary>
    private void BuildInstance(ManagedDomain m)
    {
        m.Mux ??= new ConsoleMux(m.Console);
        (ushort id, DomainBackends backends) = _host.Build(m.Config, m.Request, m.Mux);
        m.Id = id;
        m.Backends = backends;
        m.Started = false;
        m.Pauses = 0;
        m.Preserved = false;
        m.CreatedUtc = DateTime.UtcNow;
        m.Finished = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _domains[id] = m;
        }

        _ = Task.Run(() => Supervise(m, id)); // from the build on: a domain may end before it ever ran (a shutdown request)
    }

    /// <summary>Runs the instance; a failure to start leaves it built, not started. Under m.Lock.</summary>
    private void StartInstance(ManagedDomain m)
    {
        _hv.Control.Start(m.Id);
        m.Started = true;
    }

    /// <summary>Waits for instance <paramref name="id"/> to end, then applies its on_* action.</summary>
    private async Task Supervise(ManagedDomain m, ushort id)
    {
        try
        {
            await _hv.Control.WhenEnded(id);
        }
        catch (ArgumentException)
        {
            return; // destroyed before we looked
        }

        try
        {
            lock (m.Lock)
            {
                if (m.Dying || m.Id != id)
                {
                    return;
                }

                DomainInfo info = _hv.Control.GetInfo(id);
                (string ending, ShutdownAction action, int code) = DomainHost.Ending(info, m.Config);
                bool crashed = code == DomainOutcome.Crashed;
                if (crashed)
                {
                    _host.LogConsoleTail(m.Name, m.Console.History);
                }

                TaskCompletionSource<string> finished = m.Finished;
                if (action == ShutdownAction.Preserve)
                {
                    _hv.Log.Write($"{m.Name}: {ending}; preserved (on_{Which(info, crashed)}=preserve)");
                    m.Preserved = true;
                }
                else if (DomainHost.Restarts(action) && m.Restarts < _settings.MaxRestarts)
                {
                    m.Restarts++;
                    _hv.Log.Write($"{m.Name}: {ending}; restarting ({m.Restarts}/{_settings.MaxRestarts})");
                    bool run = m.Started;
                    DestroyInstance(m);
                    BuildInstance(m);
                    if (run)
                    {
                        StartInstance(m);
                    }
                }
                else
                {
                    _hv.Log.Write(DomainHost.Restarts(action) ? $"{m.Name}: {ending}; restarted {_settings.MaxRestarts} times, destroyed" : $"{m.Name}: {ending}");
                    if (!m.Console.EverAttached)
                    {
                        _endedConsoles.Add(m.Id, m.Name, m.Console); // before it leaves _domains: a console asked a moment too late finds it
                    }

                    Remove(m);
                }

                finished.TrySetResult(ending);
            }
        }
        catch (Exception e)
        {
            _log.LogError(e, "supervising {Name} failed", m.Name);
            lock (m.Lock)
            {
                Remove(m);
                m.Finished.TrySetResult("failed");
            }
        }
    }

    private static string Which(DomainInfo info, bool crashed) => crashed ? "crash" : info.ShutdownReason == ShutdownReason.Reboot ? "reboot" : "poweroff";

    /// <summary>Destroys the current instance (backends first) and unregisters it. Under m.Lock.</summary>
    private void DestroyInstance(ManagedDomain m)
    {
        lock (_lock)
        {
            _domains.Remove(m.Id);
        }

        if (m.Backends is { } b)
        {
            _host.Destroy(m.Id, b);
            m.Backends = null;
        }
        else
        {
            _hv.Control.Destroy(m.Id);
        }
    }

    /// <summary>The domain is gone for good: its instance destroyed, its console sessions ended. Under m.Lock.</summary>
    private void Remove(ManagedDomain m)
    {
        m.Dying = true;
        DestroyInstance(m);
        m.Console.DetachAll();
        m.Gone.Cancel();
    }

    private ControlReply Destroy(ManagedDomain m)
    {
        lock (m.Lock)
        {
            if (!m.Dying)
            {
                _hv.Log.Write($"{m.Name}: destroyed by the toolstack");
                Remove(m);
            }

            m.Finished.TrySetResult("destroyed");
        }

        return ControlReply.Ok();
    }

    /// <summary>shutdown/reboot; with <paramref name="wait"/> the reply comes once the instance has ended and been dealt with.</summary>
    private async Task<ControlReply> Shutdown(ManagedDomain m, bool reboot, bool wait, CancellationToken cancel)
    {
        Task<string> finished;
        ushort id;
        lock (m.Lock)
        {
            if (!m.Started)
            {
                throw new DaemonException($"domain {m.Id} has not been started (created paused); unpause or destroy it");
            }

            id = m.Id;
            finished = m.Finished.Task;
            RequestShutdown(m, reboot);
        }

        var reply = new JsonObject { ["domid"] = id };
        if (wait)
        {
            reply["ending"] = await finished.WaitAsync(cancel);
        }

        return ControlReply.Ok(reply);
    }

    /// <summary>
    /// As libxl: a guest that advertises control/feature-poweroff (a Linux with xenbus) is asked through the store's
    /// control/shutdown; one without PV control (the C test guests, XTF) is shut down by the hypervisor as
    /// SCHEDOP_shutdown would.
    /// </summary>
    private void RequestShutdown(ManagedDomain m, bool reboot)
    {
        string control = $"{XlStoreNodes.DomainPath(m.Id)}/control";
        string feature = reboot ? "feature-reboot" : "feature-poweroff";
        if (_host.Dom0.Read($"{control}/{feature}") == "1")
        {
            _host.Dom0.Write($"{control}/shutdown", reboot ? "reboot" : "poweroff");
        }
        else
        {
            _hv.Control.RequestShutdown(m.Id, reboot ? ShutdownReason.Reboot : ShutdownReason.Poweroff);
        }
    }

    private static async Task<ControlReply> Wait(ManagedDomain m, CancellationToken cancel)
    {
        ushort id = m.Id;
        string ending = await m.Finished.Task.WaitAsync(cancel);
        return ControlReply.Ok(new JsonObject { ["domid"] = id, ["ending"] = ending });
    }

    private ControlReply Pause(ManagedDomain m)
    {
        lock (m.Lock)
        {
            if (m.Started && !m.Preserved)
            {
                _hv.Control.Pause(m.Id);
            }

            m.Pauses++;
        }

        return ControlReply.Ok();
    }

    private ControlReply Unpause(ManagedDomain m)
    {
        lock (m.Lock)
        {
            if (m.Pauses > 0)
            {
                if (m.Started && !m.Preserved)
                {
                    _hv.Control.Unpause(m.Id);
                }

                m.Pauses--;
            }
            else if (!m.Started)
            {
                StartInstance(m);
            }
            else
            {
                throw new DaemonException($"unpausing domain {m.Id}: it is not paused");
            }
        }

        return ControlReply.Ok();
    }

    private ControlReply Memory(ManagedDomain m, JsonObject request, bool maximum)
    {
        long kb = request["memkb"]?.GetValue<long>() ?? throw new DaemonException("the request gives no memkb");
        ulong pages = (ulong)Math.Max(0, kb) / 4;
        lock (m.Lock)
        {
            string dom = XlStoreNodes.DomainPath(m.Id);
            if (maximum)
            {
                if (!_hv.Control.SetMemoryMaximum(m.Id, pages))
                {
                    throw new DaemonException($"cannot set the maximum of domain {m.Id} to {kb} KiB: above the {_hv.Control.GetInfo(m.Id).CurrentPages * 4} KiB it was built with");
                }

                _host.Dom0.Write($"{dom}/memory/static-max", (pages * 4).ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                if (!_hv.Control.SetMemoryTarget(m.Id, pages))
                {
                    throw new DaemonException($"memory_dynamic_max must be less than or equal to memory_static_max ({_hv.Control.GetInfo(m.Id).MaxPages * 4} KiB)");
                }

                _host.Dom0.Write($"{dom}/memory/target", (pages * 4).ToString(CultureInfo.InvariantCulture));
            }
        }

        return ControlReply.Ok();
    }

    private ControlReply DomId(JsonObject request)
    {
        string name = Text(request, "domain") ?? "";
        if (name == Dom0Name)
        {
            return ControlReply.Ok(new JsonObject { ["domid"] = 0 });
        }

        ManagedDomain? m = name.All(char.IsAsciiDigit) ? null : Find(name);
        return m is null
            ? ControlReply.Error($"Can't get domid of domain name '{name}', maybe this domain does not exist.")
            : ControlReply.Ok(new JsonObject { ["domid"] = m.Id });
    }

    private ControlReply DomName(JsonObject request)
    {
        string id = Text(request, "domain") ?? "";
        if (id == "0")
        {
            return ControlReply.Ok(new JsonObject { ["name"] = Dom0Name });
        }

        ManagedDomain? m = id.Length > 0 && id.All(char.IsAsciiDigit) ? Find(id) : null;
        return m is null
            ? ControlReply.Error($"Can't get domain name of domain id '{id}', maybe this domain does not exist.")
            : ControlReply.Ok(new JsonObject { ["name"] = m.Name });
    }

    public const string Dom0Name = "Domain-0";

    /// <summary>The domains a list-style request names (its "domains"), or all of them with Domain-0 first.</summary>
    private List<ManagedDomain?> Selected(JsonObject request)
    {
        if (request["domains"] is JsonArray { Count: > 0 } names)
        {
            return names.Select(n => n?.GetValue<string>() ?? "").Select(n =>
                n is "0" or Dom0Name ? null
                : Find(n) ?? throw new DaemonException($"{n} is an invalid domain identifier (rc={ErrorInval})")).ToList();
        }

        lock (_lock)
        {
            return [null, .. _domains.OrderBy(kv => kv.Key).Select(kv => kv.Value)];
        }
    }

    private ControlReply List(JsonObject request)
    {
        var array = new JsonArray();
        foreach (ManagedDomain? m in Selected(request))
        {
            if (m is null)
            {
                array.Add(Dom0Json());
                continue;
            }

            lock (m.Lock)
            {
                if (m.Dying || m.Backends is null)
                {
                    continue;
                }

                DomainInfo info = _hv.Control.GetInfo(m.Id);
                IReadOnlyList<VcpuInfo> vcpus = Vcpus(m);
                bool paused = !m.Started || m.Preserved || m.Pauses > 0;
                JsonObject domain = DomainJson.Info(info, vcpus, paused, m.Dying, m.Config);
                domain["devices"] = DomainJson.Devices(m.Backends.Devices?.Statistics() ?? Devices.DeviceStatistics.None);
                array.Add(domain);
            }
        }

        return ControlReply.Ok(new JsonObject { ["domains"] = array });
    }

    /// <summary>The domain's vCPUs; before it starts, vCPU 0 counts as online (the builder initialised it, as Xen's does).</summary>
    private IReadOnlyList<VcpuInfo> Vcpus(ManagedDomain m)
    {
        IReadOnlyList<VcpuInfo> vcpus = _hv.Control.GetVcpus(m.Id);
        return m.Started ? vcpus : [.. vcpus.Select(v => v.Number == 0 ? v with { Online = true } : v)];
    }

    /// <summary>Domain 0 is this process: its memory and CPU time.</summary>
    private JsonObject Dom0Json()
    {
        using Process self = Process.GetCurrentProcess();
        return new JsonObject
        {
            ["domid"] = 0,
            ["name"] = Dom0Name,
            ["uuid"] = Guid.Empty.ToString("D"),
            ["current_memkb"] = self.WorkingSet64 / 1024,
            ["max_memkb"] = self.WorkingSet64 / 1024,
            ["target_memkb"] = self.WorkingSet64 / 1024,
            ["vcpu_max_id"] = Environment.ProcessorCount - 1,
            ["vcpu_online"] = Environment.ProcessorCount,
            ["running"] = true,
            ["blocked"] = false,
            ["paused"] = false,
            ["shutdown"] = false,
            ["shutdown_reason"] = 0,
            ["dying"] = false,
            ["cpu_time"] = (ulong)(self.TotalProcessorTime.Ticks * 100),
            ["config"] = new JsonObject { ["c_info"] = new JsonObject { ["type"] = "pv", ["name"] = Dom0Name } },
        };
    }

    /// <summary>xl info's keys and values, in xl's order, for what XenSharp has.</summary>
    public JsonArray Info()
    {
        ulong totalMiB = _settings.PoolBytes >> 20;
        ulong freeMiB = _hv.Control.FreePages / 256;
        int cpus = _hv.Control.PhysicalCpus;
        (string Name, string OptName) sched = _hv.Control.Scheduler ?? ("none", "none");
        string[] version = XenHypervisor.XenInterfaceVersion.Split('.');
        (string, string)[] fields =
        [
            ("host", Environment.MachineName),
            ("release", Environment.OSVersion.Version.ToString()),
            ("version", "XenSharp"),
            ("machine", "x86_64"),
            ("nr_cpus", cpus.ToString(CultureInfo.InvariantCulture)),
            ("max_cpu_id", Math.Max(0, cpus - 1).ToString(CultureInfo.InvariantCulture)),
            ("nr_nodes", "1"),
            ("cores_per_socket", cpus.ToString(CultureInfo.InvariantCulture)),
            ("threads_per_core", "1"),
            ("virt_caps", "pv"),
            ("total_memory", totalMiB.ToString(CultureInfo.InvariantCulture)),
            ("free_memory", freeMiB.ToString(CultureInfo.InvariantCulture)),
            ("sharing_freed_memory", "0"),
            ("sharing_used_memory", "0"),
            ("outstanding_claims", "0"),
            ("free_cpus", "0"),
            ("xen_major", version[0]),
            ("xen_minor", version[1]),
            ("xen_extra", "-xensharp"),
            ("xen_version", $"{XenHypervisor.XenInterfaceVersion}-xensharp"),
            ("xen_caps", "xen-3.0-x86_64"),
            ("xen_scheduler", sched.OptName),
            ("xen_pagesize", "4096"),
            ("platform_params", "virt_start=0xffff800000000000"),
            ("xen_changeset", ""),
            ("xen_commandline", ""),
            ("cc_compiler", $".NET {Environment.Version}"),
            ("xend_config_format", "4"),
        ];
        return new JsonArray([.. fields.Select(f => (JsonNode)new JsonArray(f.Item1, f.Item2))]);
    }

    private ControlReply Uptime(JsonObject request)
    {
        var array = new JsonArray();
        DateTime now = DateTime.UtcNow;
        foreach (ManagedDomain? m in Selected(request))
        {
            array.Add(m is null
                ? new JsonObject { ["domid"] = 0, ["name"] = Dom0Name, ["seconds"] = (long)(now - _started).TotalSeconds }
                : new JsonObject { ["domid"] = m.Id, ["name"] = m.Name, ["seconds"] = (long)(now - m.CreatedUtc).TotalSeconds });
        }

        return ControlReply.Ok(new JsonObject { ["domains"] = array });
    }

    private ControlReply VcpuList(JsonObject request)
    {
        var array = new JsonArray();
        foreach (ManagedDomain m in Selected(request).OfType<ManagedDomain>())
        {
            lock (m.Lock)
            {
                if (m.Dying)
                {
                    continue;
                }

                bool paused = !m.Started || m.Preserved || m.Pauses > 0;
                foreach (VcpuInfo v in Vcpus(m))
                {
                    array.Add(new JsonObject
                    {
                        ["name"] = m.Name,
                        ["domid"] = m.Id,
                        ["vcpu"] = v.Number,
                        ["cpu"] = v.Cpu,
                        ["online"] = v.Online,
                        ["running"] = v.Runstate == RunstateLayout.Running,
                        ["blocked"] = v.Runstate == RunstateLayout.Blocked,
                        ["paused"] = paused,
                        ["cpu_time"] = v.CpuTimeNs,
                        ["affinity_hard"] = XlCpuMap.Format(v.HardAffinity, _hv.Control.PhysicalCpus),
                        ["affinity_soft"] = XlCpuMap.Format(v.SoftAffinity, _hv.Control.PhysicalCpus),
                    });
                }
            }
        }

        return ControlReply.Ok(new JsonObject { ["vcpus"] = array });
    }

    private static SortedSet<int> CpuMap(string text, int cpus)
    {
        try
        {
            return XlCpuMap.Parse(text, cpus);
        }
        catch (CpuMapException e)
        {
            throw new DaemonException(e.Message);
        }
    }

    /// <summary>
    /// vcpu-pin: one vCPU's (or, for "all", every vCPU's) hard affinity, and its soft one if given, in xl's cpumap
    /// text (<see cref="XlCpuMap"/>); a hard "-" leaves the hard affinity as it is. Soft affinity is recorded and
    /// shown by vcpu-list but BVT gives it no effect.
    /// </summary>
    private ControlReply VcpuPin(ManagedDomain m, JsonObject request)
    {
        string vcpuText = Text(request, "vcpu") ?? throw new DaemonException("the request names no vCPU");
        string hardText = Text(request, "hard") ?? throw new DaemonException("the request gives no CPUs");
        string? softText = Text(request, "soft");
        int cpus = _hv.Control.PhysicalCpus;
        if (cpus == 0)
        {
            throw new DaemonException($"vcpu-pin: domain {m.Id}: this hypervisor has no scheduler (no physical CPUs to pin to)");
        }

        SortedSet<int>? hard = hardText == "-" ? null : CpuMap(hardText, cpus);
        SortedSet<int>? soft = softText is null ? null : CpuMap(softText, cpus);
        if (hard is null && soft is null)
        {
            throw new DaemonException("vcpu-pin: neither a hard nor a soft affinity to set");
        }

        lock (m.Lock)
        {
            IReadOnlyList<VcpuInfo> vcpus = Vcpus(m);
            IEnumerable<VcpuInfo> targets;
            if (vcpuText == "all")
            {
                targets = vcpus;
            }
            else if (int.TryParse(vcpuText, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n < vcpus.Count)
            {
                targets = [vcpus[n]];
            }
            else
            {
                throw new DaemonException(vcpuText.Length > 0 && vcpuText.All(char.IsAsciiDigit)
                    ? $"Could not set affinity for vcpu `{vcpuText}': domain {m.Id} has {vcpus.Count} vCPUs (0-{vcpus.Count - 1})"
                    : $"Error: Invalid argument {vcpuText} as VCPU.");
            }

            foreach (VcpuInfo v in targets)
            {
                int rc = _hv.Control.SetVcpuAffinity(m.Id, v.Number, (IReadOnlyCollection<int>?)hard ?? v.HardAffinity, (IReadOnlyCollection<int>?)soft ?? v.SoftAffinity);
                if (rc != 0)
                {
                    throw new DaemonException($"Could not set affinity for vcpu `{v.Number}' (rc={rc})");
                }
            }
        }

        return ControlReply.Ok();
    }

    /// <summary>
    /// BVT's parameters, as xm sched-bvt set them: without values, each named domain's (or every one's); with
    /// values (mcuadv, warpback, warpvalue, warpl, warpu; any subset), those set on the one named domain.
    /// </summary>
    private ControlReply SchedBvt(JsonObject request)
    {
        string[] keys = ["mcuadv", "warpback", "warpvalue", "warpl", "warpu"];
        if (request["ctxallow"] is JsonNode allow)
        {
            int rc = _hv.Control.SetBvtContextSwitchAllowance(allow.GetValue<long>() * 1_000_000);
            return rc == 0 ? ControlReply.Ok() : ControlReply.Error($"sched-bvt: the context-switch allowance was refused (errno {-rc})");
        }

        if (keys.Any(k => request[k] is not null))
        {
            ManagedDomain m = Resolve(request);
            lock (m.Lock)
            {
                if (_hv.Control.GetSchedulerParameters(m.Id) is not BvtParameters p)
                {
                    throw new DaemonException("sched-bvt: the scheduler is not BVT");
                }

                long Get(string k, long current) => request[k]?.GetValue<long>() ?? current;
                var updated = p with
                {
                    McuAdvance = Get("mcuadv", p.McuAdvance / BvtParameters.Unit) * BvtParameters.Unit,
                    WarpBack = Get("warpback", p.WarpBack ? 1 : 0) != 0,
                    WarpValue = Get("warpvalue", p.WarpValue / BvtParameters.Unit) * BvtParameters.Unit,
                    WarpLimitNs = Get("warpl", p.WarpLimitNs / 1_000_000) * 1_000_000,
                    UnwarpRequirementNs = Get("warpu", p.UnwarpRequirementNs / 1_000_000) * 1_000_000,
                };
                int rc = _hv.Control.SetSchedulerParameters(m.Id, updated);
                if (rc != 0)
                {
                    throw new DaemonException($"sched-bvt: domain {m.Id}: the parameters were refused (errno {-rc})");
                }
            }

            return ControlReply.Ok();
        }

        var array = new JsonArray();
        foreach (ManagedDomain m in (request["domain"] is null ? Selected(request) : [Resolve(request)]).OfType<ManagedDomain>())
        {
            lock (m.Lock)
            {
                if (m.Dying || _hv.Control.GetSchedulerParameters(m.Id) is not BvtParameters p)
                {
                    continue;
                }

                array.Add(new JsonObject
                {
                    ["name"] = m.Name,
                    ["domid"] = m.Id,
                    ["mcuadv"] = p.McuAdvance / BvtParameters.Unit,
                    ["warpback"] = p.WarpBack ? 1 : 0,
                    ["warpvalue"] = p.WarpValue / BvtParameters.Unit,
                    ["warpl"] = p.WarpLimitNs / 1_000_000,
                    ["warpu"] = p.UnwarpRequirementNs / 1_000_000,
                });
            }
        }

        return ControlReply.Ok(new JsonObject { ["domains"] = array, ["ctxallow"] = _hv.Control.BvtContextSwitchAllowanceNs / 1_000_000 });
    }

    /// <summary>
    /// As libxl_domain_rename: a name another domain holds (or one being created) is refused; otherwise the store's
    /// /local/domain/N/name and the vm path's name change in one transaction, and the daemon's record with them.
    /// </summary>
    private ControlReply Rename(ManagedDomain m, string name)
    {
        lock (m.Lock)
        {
            lock (_lock) // inside m.Lock, as BuildInstance takes them: the check and the change are one step for Create's check too
            {
                if (_domains.Values.Any(d => d != m && d.Name == name) || _building.Contains(name) || name == Dom0Name)
                {
                    throw new DaemonException($"domain with name \"{name}\" already exists.");
                }

                string dom = XlStoreNodes.DomainPath(m.Id);
                string? vm = _host.Dom0.Read($"{dom}/vm");
                XsError e = _host.Dom0.Transact(tx =>
                {
                    XsError r = _host.Dom0.Write($"{dom}/name", name, tx);
                    return r != XsError.None || vm is null ? r : _host.Dom0.Write($"{vm}/name", name, tx);
                });
                if (e != XsError.None)
                {
                    throw new DaemonException($"renaming domain {m.Id}: the store refused it ({e})");
                }

                _hv.Log.Write($"{m.Name}: renamed {name}");
                m.Config = m.Config with { Name = name };
            }
        }

        return ControlReply.Ok();
    }

    /// <summary>As libxl_send_sysrq for a PV domain: the key, one character, written to its control/sysrq.</summary>
    private ControlReply Sysrq(ManagedDomain m, string key)
    {
        if (key.Length != 1)
        {
            throw new DaemonException("Invalid sysrq.");
        }

        lock (m.Lock)
        {
            _host.Dom0.Write($"{XlStoreNodes.DomainPath(m.Id)}/control/sysrq", key);
        }

        return ControlReply.Ok();
    }

    /// <summary>
    /// As xl vcpu-set and libxl_set_vcpuonline for a PV domain: cpu/I/availability becomes online for I below
    /// <c>count</c> and offline for the rest (the guest hot-plugs on its watch); more than the domain's maximum, or 0,
    /// is libxl's error; more than the host's CPUs (and more than are online) is xl's overcommit refusal unless
    /// <c>ignore_host</c>.
    /// </summary>
    private ControlReply VcpuSet(ManagedDomain m, JsonObject request)
    {
        int count = request["count"]?.GetValue<int>() ?? throw new DaemonException("the request gives no count");
        bool ignoreHost = request["ignore_host"]?.GetValue<bool>() == true;
        lock (m.Lock)
        {
            IReadOnlyList<VcpuInfo> vcpus = Vcpus(m);
            int host = _hv.Control.PhysicalCpus;
            if (!ignoreHost && count > vcpus.Count(v => v.Online) && count > host)
            {
                throw new DaemonException($"You are overcommmitting! You have {host} physical CPUs and want {count} vCPUs! Aborting, use --ignore-host to  continue");
            }

            if (count == 0)
            {
                throw new DaemonException("Requested 0 VCPUs!");
            }

            if (count > vcpus.Count)
            {
                throw new DaemonException($"Requested {count} VCPUs, however maxcpus is {vcpus.Count}!");
            }

            string dom = XlStoreNodes.DomainPath(m.Id);
            XsError e = _host.Dom0.Transact(tx => vcpus
                .Select(v => _host.Dom0.Write($"{dom}/cpu/{v.Number}/availability", v.Number < count ? "online" : "offline", tx))
                .FirstOrDefault(r => r != XsError.None, XsError.None));
            if (e != XsError.None)
            {
                throw new DaemonException($"setting the vCPUs of domain {m.Id}: the store refused it ({e})");
            }
        }

        return ControlReply.Ok();
    }

    /// <summary>block-list, network-list: each named domain's devices of one kind, read from the store as libxl reads them.</summary>
    private ControlReply DeviceList(JsonObject request, string kind, Func<XsClient, ushort, string, JsonObject> read)
    {
        var array = new JsonArray();
        foreach (ManagedDomain m in Selected(request).OfType<ManagedDomain>())
        {
            lock (m.Lock)
            {
                if (m.Dying)
                {
                    continue;
                }

                foreach (JsonObject device in DeviceNodes.List(_host.Dom0, m.Id, kind, read))
                {
                    array.Add(device);
                }
            }
        }

        return ControlReply.Ok(new JsonObject { ["devices"] = array });
    }

    /// <summary>
    /// The session ends when the domain is gone, after its last output (ConsoleHub.DetachAll), not at once: xtf-runner
    /// reads the verdict there. A domain that has just ended on its own, unattached, is still reached (EndedConsoles).
    /// </summary>
    private ControlReply Console(JsonObject request)
    {
        string domain = Text(request, "domain") ?? throw new DaemonException("the request names no domain");
        (ushort id, ConsoleHub hub) = Find(domain) is { } m ? (m.Id, m.Console)
            : _endedConsoles.Take(domain) ?? throw new DaemonException($"{domain} is an invalid domain identifier (rc={ErrorInval})");
        return new(ControlReply.Ok(new JsonObject { ["domid"] = id }).Body, (stream, cancel) => hub.AttachAsync(stream, cancel));
    }

    /// <summary>
    /// SIGTERM: asks every running guest to shut down, waits up to the settings' timeout for them, then destroys
    /// every domain left (created-paused and preserved ones too).
    /// </summary>
    public async Task ShutdownAllAsync()
    {
        List<ManagedDomain> all;
        lock (_lock)
        {
            all = _domains.Values.Distinct().ToList();
        }

        var waits = new List<Task>();
        foreach (ManagedDomain m in all)
        {
            lock (m.Lock)
            {
                if (m.Started && !m.Preserved && !m.Dying)
                {
                    m.Restarts = int.MaxValue; // no restart now
                    try
                    {
                        if (m.Pauses > 0)
                        {
                            _hv.Control.Unpause(m.Id);
                            m.Pauses--;
                        }

                        RequestShutdown(m, reboot: false);
                        waits.Add(m.Finished.Task);
                    }
                    catch (ArgumentException)
                    {
                    }
                }
            }
        }

        _log.LogInformation("stopping: asked {Count} domains to shut down", waits.Count);
        await Task.WhenAny(Task.WhenAll(waits), Task.Delay(_settings.ShutdownTimeout));
        foreach (ManagedDomain m in all)
        {
            lock (m.Lock)
            {
                if (!m.Dying)
                {
                    _hv.Log.Write($"{m.Name}: destroyed as the daemon stops");
                    Remove(m);
                    m.Finished.TrySetResult("destroyed");
                }
            }
        }
    }
}
