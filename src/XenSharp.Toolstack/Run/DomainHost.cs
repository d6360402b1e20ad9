using XenSharp.Abi;
using XenSharp.Backends.Console;
using XenSharp.Backends.Net;
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
/// Domain 0's per-domain work, shared by `xensharp run` (<see cref="RunSession"/>) and the daemon: reading a config's
/// kernel, building the domain and attaching its backends, destroying it in libxl's order, and naming how it ended
/// with the on_* action that applies. It owns the store every domain is introduced to and domain 0's connection to it.
/// Invariant: an uplink (a vif's `bridge=NAME`) is opened before the domain or the hot-plugged vif that names it
/// exists, and stays open while this host lives, used by a domain or not, as Xen's bridge outlives its domains (the
/// host's addresses on the TAP survive a domain's reboot); <see cref="Dispose"/> (the run session's end, the daemon's
/// shutdown) closes every one, and the kernel removes each TAP it created for us.
/// </summary>
public sealed class DomainHost : IDisposable
{
    private readonly XenHypervisor _hypervisor;
    private readonly XsClient _dom0;

    /// <param name="store">The store to introduce domains to; null: a new one.</param>
    public DomainHost(XenHypervisor hypervisor, XenStore? store = null)
    {
        _hypervisor = hypervisor;
        Store = store ?? new XenStore(hypervisor.Log, domid => domid == 0 || hypervisor.Control.List().Contains((ushort)domid));
        _dom0 = Store.Connect(0);
        XlStoreNodes.WriteDom0(_dom0);
        Uplinks = new VfrUplinks(Vfr);
    }

    /// <summary>xenstored for the domains.</summary>
    public XenStore Store { get; }

    /// <summary>The virtual firewall-router every domain's VIFs join (one per host: the daemon's or the run session's).</summary>
    public Vfr Vfr { get; } = new();

    /// <summary>The VFR's uplinks to the host: a TAP for each name a vif's `bridge=` gives, opened by the first domain or hot-plugged vif that names it, kept until <see cref="Dispose"/>.</summary>
    public VfrUplinks Uplinks { get; }

    /// <summary>Domain 0's own store connection (the toolstack's).</summary>
    public XsClient Dom0 => _dom0;

    /// <summary>Reads a config's kernel (and ramdisk) into what the builder takes.</summary>
    public static BuildRequest Prepare(DomainConfig c) => new(
        c.Name,
        KernelImage.Load(c.Kernel),
        c.MemoryMiB,
        c.Vcpus,
        c.CommandLine,
        c.Ramdisk is null ? null : ReadRamdisk(c.Ramdisk),
        c.Scheduling,
        c.HardAffinity,
        c.SoftAffinity);

    /// <summary>
    /// Builds a domain, writes its xenstore nodes, introduces it to the store and connects its PV console ring to the
    /// terminal: console_io and the ring both print through <paramref name="mux"/>. Each backend serves its ring on its own
    /// thread: the guest's notification wakes it, and the console's also polls every 10 ms for input and unnotified output.
    /// </summary>
    public (ushort Domain, DomainBackends Backends) Build(DomainConfig config, BuildRequest request, ConsoleMux mux)
    {
        EnsureUplinks(config);
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
            backends.Devices = Devices.DeviceSetup.Attach(_hypervisor, Store, _dom0, d, config, Vfr);
            return (d, backends);
        }
        catch
        {
            backends.Dispose();
            _hypervisor.Control.Destroy(d);
            throw;
        }
    }

    /// <summary>
    /// Opens the uplink <paramref name="vif"/>'s `bridge=` names, if it names one and it is not open yet; before the
    /// vif is attached, so a bridge that cannot be had leaves nothing to undo.
    /// </summary>
    /// <param name="where">The vif, for the message ("guest.cfg:7: vif 'bridge=xs0'", "command line: vif 'bridge=xs0'").</param>
    /// <exception cref="Devices.DeviceException">The bridge cannot be had: "WHERE: bridge NAME: WHY", one line.</exception>
    public void EnsureUplink(VifSpec vif, string where)
    {
        if (vif.Bridge is not { } bridge)
        {
            return;
        }

        try
        {
            Uplinks.Ensure(bridge);
        }
        catch (VfrUplinkException e)
        {
            throw new Devices.DeviceException($"{where}: bridge {bridge}: {e.Message}");
        }
        catch (ObjectDisposedException)
        {
            throw new Devices.DeviceException($"{where}: bridge {bridge}: the host is stopping");
        }
    }

    /// <summary>Closes every uplink (their TAP descriptors); the domains are the caller's to have ended first.</summary>
    public void Dispose() => Uplinks.Dispose();

    // Before the domain exists: a vif whose bridge cannot be had fails the build with nothing to undo.
    private void EnsureUplinks(DomainConfig config)
    {
        foreach (VifSpec vif in config.Vifs)
        {
            string where = config.SourcePath.Length > 0 ? $"{config.SourcePath}:{vif.Line}" : config.Name;
            try
            {
                EnsureUplink(vif, $"{where}: vif '{vif.Entry}'");
            }
            catch (Devices.DeviceException e)
            {
                throw new DomainBuildException(e.Message);
            }
        }
    }

    /// <summary>Disconnects the backends (the console drained, the store told) before the domain's frames are freed, then destroys the domain.</summary>
    public void Destroy(ushort domain, DomainBackends backends)
    {
        backends.Dispose();
        _hypervisor.Control.Destroy(domain);
    }

    /// <summary>How an ended domain ended ("powered off", "crashed: REASON"), the config's action for it and run's exit code.</summary>
    public static (string Ending, ShutdownAction Action, int Code) Ending(DomainInfo info, DomainConfig config) =>
        info.State == DomainState.Crashed
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

    /// <summary>Whether an on_* action builds the domain again.</summary>
    public static bool Restarts(ShutdownAction action) =>
        action is ShutdownAction.Restart or ShutdownAction.RenameRestart or ShutdownAction.CoredumpRestart or ShutdownAction.SoftReset;

    /// <summary>A crashed domain's last console lines, each as "(XEN) NAME console: LINE", after its verdict.</summary>
    public void LogConsoleTail(string name, string transcript)
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
