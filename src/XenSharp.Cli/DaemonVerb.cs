using System.CommandLine;
using Microsoft.Extensions.Logging;
using XenSharp.Backends.Xenstore;
using XenSharp.Cli.Xl;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Logging;
using XenSharp.Kvm;
using XenSharp.Toolstack.Daemon;
using XenSharp.Toolstack.Run;

namespace XenSharp.Cli;

/// <summary>
/// `xensharp daemon`: the toolstack daemon (docs/toolstack.md). One hypervisor on /dev/kvm holds the domains that
/// `create` asks for; xl's verbs reach it on the control socket. Runs in the foreground until SIGTERM or Ctrl-C.
/// Without KVM it is store-only: both sockets and every verb, but `create` refused in one line.
/// </summary>
public static class DaemonVerb
{
    public const string DefaultLog = "/var/log/xensharp/xensharp.log";

    public static Command Create()
    {
        var store = new Option<string?>("--xenstore-socket") { HelpName = "PATH", Description = $"Serve xenstore here (default {StoreSocketServer.DefaultPath} unless a live xenstored has it)" };
        var log = new Option<string?>("--log") { HelpName = "FILE", Description = $"The daemon's log file (default {DefaultLog})" };
        var pcpus = new Option<int?>("--pcpus") { HelpName = "N", Description = "Physical CPUs the BVT scheduler shares between all vCPUs (default: the host's cores)" };
        var pool = new Option<int?>("--pool-mb") { HelpName = "MIB", Description = $"Machine memory shared by all domains, in MiB (default {RunVerb.DefaultPoolMiB})" };
        var group = new Option<string?>("--group") { HelpName = "NAME", Description = "Group that may use the control socket besides root" };
        var restarts = new Option<int?>("--max-restarts") { HelpName = "N", Description = "Most restarts of one domain by on_reboot/on_crash=restart (default 5)" };
        var cmd = new Command("daemon", "Run the toolstack daemon: one hypervisor holding the domains xl's verbs create");
        cmd.Options.Add(store);
        cmd.Options.Add(log);
        cmd.Options.Add(pcpus);
        cmd.Options.Add(pool);
        cmd.Options.Add(group);
        cmd.Options.Add(restarts);
        cmd.SetAction(r => Execute(r.GetValue(XlVerbs.SocketOption) ?? ControlClient.DefaultPath, r.GetValue(store), r.GetValue(log) ?? DefaultLog,
            r.GetValue(pcpus), r.GetValue(pool) ?? RunVerb.DefaultPoolMiB, r.GetValue(group), r.GetValue(restarts) ?? 5));
        return cmd;
    }

    private static int Execute(string socket, string? xenstoreSocket, string logPath, int? pcpus, int poolMiB, string? group, int maxRestarts)
    {
        if (!RunOptionValues.IsPoolMiB(poolMiB))
        {
            Console.Error.WriteLine($"xensharp: --pool-mb: \"{poolMiB}\" is not {RunOptionValues.PoolRule}");
            return DomainOutcome.UsageError;
        }

        if (pcpus is < 1 or > RunVerb.MaxPcpus)
        {
            Console.Error.WriteLine($"xensharp: --pcpus: \"{pcpus}\" is not a whole number from 1 to {RunVerb.MaxPcpus}");
            return DomainOutcome.UsageError;
        }

        FileLoggerProvider files;
        try
        {
            files = new FileLoggerProvider(logPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"xensharp: --log: {logPath}: {e.Message}");
            return DomainOutcome.UsageError;
        }

        using ILoggerFactory factory = LoggerFactory.Create(b => b.AddProvider(files).SetMinimumLevel(LogLevel.Information));
        ILogger daemonLog = factory.CreateLogger("xensharp.daemon");
        var ring = new LogRing(factory.CreateLogger("xen"));
        ulong poolBytes = (ulong)poolMiB << 20;
        try
        {
            using XenHypervisor hv = OpenHypervisor(poolBytes, new HypervisorLog(ring), pcpus, daemonLog, out string? noDomains);
            using var service = new DaemonService(hv, ring, daemonLog, new DaemonSettings { PoolBytes = poolBytes, MaxRestarts = maxRestarts }, socket, xenstoreSocket, group,
                noDomains);
            Console.Error.WriteLine($"xensharp: daemon listening on {socket}; xenstore on {service.StoreSocketPath ?? "(none)"}; log in {logPath}");
            service.RunAsync().GetAwaiter().GetResult();
            return 0;
        }
        catch (Exception e) when (e is DaemonException or StoreSocketException or KvmUnavailableException or KvmException or IOException)
        {
            daemonLog.LogError("cannot start: {Error}", e.Message);
            Console.Error.WriteLine($"xensharp: {e.Message}");
            return DomainOutcome.UsageError;
        }
    }

    /// <summary>
    /// The hypervisor on KVM; where KVM cannot be opened, one without a machine, so that the daemon serves its store
    /// and its verbs but creates no domain (<paramref name="noDomains"/> says why, also as a warning in the log and on stderr).
    /// </summary>
    private static XenHypervisor OpenHypervisor(ulong poolBytes, HypervisorLog log, int? pcpus, ILogger daemonLog, out string? noDomains)
    {
        try
        {
            noDomains = null;
            return XenHypervisor.CreateOnKvm(poolBytes, log, pcpus);
        }
        catch (KvmUnavailableException e)
        {
            string device = XenHypervisor.KvmDevice;
            noDomains = File.Exists(device) ? e.Message : $"no {device} on this host";
            daemonLog.LogWarning("store only: {Reason}; no domains can be created", noDomains);
            Console.Error.WriteLine($"xensharp: warning: {noDomains}; the daemon serves its store and verbs, but no domains can be created");
            return XenHypervisor.CreateWithoutMachine(poolBytes, log, pcpus);
        }
    }
}
