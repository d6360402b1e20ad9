using System.CommandLine;
using System.CommandLine.Parsing;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Logging;
using XenSharp.Kvm;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Image;
using XenSharp.Toolstack.Run;

namespace XenSharp.Cli;

/// <summary>`xensharp run CFG...`: an embedded hypervisor for the given domains, consoles attached, exit status from how they ended.</summary>
public static class RunVerb
{
    public const int DefaultPoolMiB = 2048;

    public static Command Create()
    {
        var configs = new Argument<string[]>("config") { Description = "xl-style domain config files; several start several domains", Arity = ArgumentArity.OneOrMore };
        configs.Validators.Add(UnknownOptions);
        var timeout = new Option<double?>("--timeout")
        {
            HelpName = "SECONDS",
            Description = "Destroy domains still running after this many seconds (exit status 124)",
            CustomParser = r => RunOptionValues.TryParseTimeout(r.Tokens[0].Value, out double s, out string problem) ? s : Fail<double?>(r, problem),
        };
        var pool = new Option<int?>("--pool-mb")
        {
            HelpName = "MIB",
            Description = $"Machine memory shared by all domains, in MiB (default {DefaultPoolMiB}, or $XENSHARP_POOL_MB)",
            CustomParser = r => RunOptionValues.TryParsePoolMiB(r.Tokens[0].Value, out int mb, out string problem) ? mb : Fail<int?>(r, problem),
        };
        var socket = new Option<string?>("--xenstore-socket")
        {
            HelpName = "PATH",
            Description = "Also serve xenstore on this Unix socket, as xenstored does (e.g. /run/xenstored/socket), for Xen's xenstore-* tools",
        };
        var exitStats = new Option<bool>("--exit-stats")
        {
            Description = "Count each domain's exits to the host by reason (hypercall, vector, emulated instruction, port) and log them when it ends",
        };
        var pcpus = new Option<int?>("--pcpus")
        {
            HelpName = "N",
            Description = "Physical CPUs the BVT scheduler shares between all vCPUs: at most this many run at once (default: the host's cores)",
            CustomParser = r => int.TryParse(r.Tokens[0].Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= MaxPcpus
                ? n : Fail<int?>(r, $"\"{r.Tokens[0].Value}\" is not a whole number from 1 to {MaxPcpus}"),
        };
        Option<bool> emulate = HelperMachine.CreateOption();
        var cmd = new Command("run", "Boot PV domains from xl config files and attach their consoles");
        cmd.Arguments.Add(configs);
        cmd.Options.Add(timeout);
        cmd.Options.Add(pool);
        cmd.Options.Add(socket);
        cmd.Options.Add(exitStats);
        cmd.Options.Add(pcpus);
        cmd.Options.Add(emulate);
        cmd.SetAction(r => Execute(r.GetValue(configs) ?? [], r.GetValue(timeout), r.GetValue(pool), r.GetValue(socket), new HelperMachine(r, emulate), r.GetValue(exitStats), r.GetValue(pcpus)));
        return cmd;
    }

    /// <summary>The most physical-CPU slots --pcpus takes.</summary>
    public const int MaxPcpus = 1024;

    public static int Execute(string[] configPaths, double? timeoutSeconds, int? poolMiB, string? xenstoreSocket = null, HelperMachine? helper = null,
        bool exitStats = false, int? pcpus = null)
    {
        try
        {
            var configs = configPaths.Select(XlConfigParser.Load).ToList();
            foreach (string warning in configs.SelectMany(c => c.Warnings))
            {
                Console.Error.WriteLine($"xensharp: {warning}");
            }

            DuplicateNames(configs);
            IReadOnlyList<BuildRequest> _ = RunSession.Prepare(configs); // fail on bad kernels before touching KVM
            int poolMb = poolMiB is { } mb
                ? RunOptionValues.IsPoolMiB(mb) ? mb : throw new UsageException($"--pool-mb: \"{mb}\" is not {RunOptionValues.PoolRule}")
                : PoolFromEnvironment();
            PoolFit.Check(configs, poolMb);
            if (xenstoreSocket is not null)
            {
                StoreSocketPath.Check(xenstoreSocket); // refuse a path in use before touching KVM; RunSession takes it
            }

            ulong pool = (ulong)poolMb << 20;
            if (helper?.ShouldRun() == true)
            {
                return helper.Run(configs, timeoutSeconds, pool); // no /dev/kvm (or --emulate): KVM inside QEMU
            }

            using XenHypervisor hv = XenHypervisor.CreateOnKvm(pool, HypervisorLog.Stderr, pcpus);
            hv.CountExits = exitStats;
            var options = new RunOptions
            {
                Timeout = timeoutSeconds is { } s ? TimeSpan.FromSeconds(s) : null,
                XenstoreSocket = xenstoreSocket,
                Input = Console.OpenStandardInput(),
            };
            IReadOnlyList<DomainOutcome> outcomes = new RunSession(hv, configs, Console.Out, options).RunAsync().GetAwaiter().GetResult();
            return RunSession.ExitCode(outcomes);
        }
        catch (Exception e) when (e is ConfigException or KernelImageException or DomainBuildException or KvmUnavailableException or KvmException or UsageException
            or StoreSocketException or System.Net.Sockets.SocketException)
        {
            Console.Error.WriteLine($"xensharp: {e.Message}");
            return DomainOutcome.UsageError;
        }
    }

    private static int PoolFromEnvironment()
    {
        string? v = Environment.GetEnvironmentVariable("XENSHARP_POOL_MB");
        if (v is null)
        {
            return DefaultPoolMiB;
        }

        return RunOptionValues.TryParsePoolMiB(v, out int mb, out string problem) ? mb : throw new UsageException($"XENSHARP_POOL_MB: {problem}");
    }

    /// <summary>An option run does not have arrives as a config path; one that is not an existing file is a usage error.</summary>
    private static void UnknownOptions(ArgumentResult result)
    {
        foreach (System.CommandLine.Parsing.Token t in result.Tokens.Where(t => t.Value.Length > 1 && t.Value[0] == '-' && !File.Exists(t.Value)))
        {
            result.AddError($"unknown option {ConfigText.SingleQuoted(t.Value)} for run");
        }
    }

    private static T Fail<T>(ArgumentResult result, string problem)
    {
        result.AddError($"{((OptionResult)result.Parent!).Option.Name}: {problem}");
        return default!;
    }

    private static void DuplicateNames(List<DomainConfig> configs)
    {
        string? dup = configs.GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1)?.Key;
        if (dup is not null)
        {
            throw new UsageException($"two configs name their domain \"{dup}\"; domain names must be unique");
        }
    }
}
