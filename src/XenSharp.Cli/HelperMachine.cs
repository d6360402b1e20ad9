using System.CommandLine;
using System.CommandLine.Parsing;
using XenSharp.Toolstack.Config;

namespace XenSharp.Cli;

/// <summary>
/// `xensharp run` where there is no KVM (or with --emulate): the same xensharp, with the same arguments minus --emulate,
/// from the same working directory, run by hwkvm/emulate (tools/hwkvm/emulate, copied beside the CLI) on kvm_amd inside
/// QEMU's emulated CPU. The helper machine sees this host's root read-only at the same paths; what it needs from under
/// /tmp or /run (its own tmpfs there) is carried over. Its exit status is the inner run's. The inner --timeout is the
/// only timeout: the outer deadline, when there is one, is that plus <see cref="DeadlineMargin"/> for booting.
/// </summary>
public sealed class HelperMachine(ParseResult parse, Option<bool> emulate)
{
    public const string OptionName = "--emulate";

    /// <summary>Booting the helper machine and starting .NET in it: seconds to minutes on QEMU's software CPU.</summary>
    public static readonly TimeSpan DeadlineMargin = TimeSpan.FromMinutes(15);

    /// <summary>The helper's memory beyond the hypervisor's pool: its kernel, .NET, the tmpfs overlay.</summary>
    public const int OverheadMiB = 1024;

    private HostFacts? _host;

    public static Option<bool> CreateOption() => new(OptionName)
    {
        Description = "Run on KVM inside QEMU's emulated CPU (a helper machine, 10-100x slower); automatic where there is no /dev/kvm",
        Arity = ArgumentArity.Zero,
    };

    /// <summary>Whether to run in the helper machine (and then says so on stderr).</summary>
    /// <exception cref="UsageException">No KVM and no way to emulate one: the message names what to do.</exception>
    public bool ShouldRun()
    {
        bool requested = parse.GetValue(emulate);
        _host = HostFacts.Probe(requested);
        string? line = EmulationPolicy.Decide(_host, requested);
        if (line is null)
        {
            return false;
        }

        Console.Error.WriteLine(line);
        return true;
    }

    public int Run(IReadOnlyList<DomainConfig> configs, double? timeoutSeconds, ulong poolBytes)
    {
        string runner = _host?.Runner ?? throw new InvalidOperationException("ShouldRun() has not chosen the helper machine");
        string cwd = Environment.CurrentDirectory;
        IReadOnlyList<string> self = SelfCommand();
        var needed = new List<string> { cwd, AppContext.BaseDirectory };
        needed.AddRange(self);
        foreach (DomainConfig c in configs)
        {
            needed.Add(c.SourcePath);
            needed.Add(c.Kernel);
            if (c.Ramdisk is { } r)
            {
                needed.Add(r);
            }
        }

        int memMiB = (int)(poolBytes >> 20) + OverheadMiB;
        IReadOnlyList<string> arguments = RunnerArguments(cwd, memMiB, DeadlineSeconds(timeoutSeconds), CarriedPaths(needed), [.. self, .. ForwardedArguments(parse, emulate)]);
        return ForegroundChild.Run("bash", [runner, .. arguments]);
    }

    /// <summary>The outer limit: none without --timeout (the inner run may go on for ever, as on real KVM); with it, the inner limit plus booting.</summary>
    public static int? DeadlineSeconds(double? timeoutSeconds) =>
        timeoutSeconds is { } t ? (int)Math.Ceiling(t + DeadlineMargin.TotalSeconds) : null;

    /// <summary>The command line as parsed (response files expanded, `--opt=value` split), without --emulate.</summary>
    public static IReadOnlyList<string> ForwardedArguments(ParseResult parse, Option<bool> emulate)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(emulate);
        return parse.Tokens.Where(t => !(t.Type == TokenType.Option && (t.Value == emulate.Name || emulate.Aliases.Contains(t.Value))))
            .Select(t => t.Value).ToList();
    }

    /// <summary>
    /// What the helper machine must keep seeing from this host among <paramref name="paths"/>: for each under /tmp or
    /// /run, the entry right below /tmp or /run that holds it (or /tmp, /run themselves), once each, in order.
    /// </summary>
    public static IReadOnlyList<string> CarriedPaths(IEnumerable<string> paths)
    {
        var carried = new List<string>();
        foreach (string p in paths)
        {
            if (p.Length == 0 || !Path.IsPathRooted(p))
            {
                continue;
            }

            string[] parts = Path.GetFullPath(p).Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0 || parts[0] is not ("tmp" or "run"))
            {
                continue;
            }

            string top = "/" + string.Join('/', parts.Take(2));
            if (!carried.Contains(top))
            {
                carried.Add(top);
            }
        }

        // /tmp itself covers everything below it.
        return carried.Where(c => !carried.Any(o => o != c && c.StartsWith(o + "/", StringComparison.Ordinal))).ToList();
    }

    /// <summary>hwkvm/emulate's arguments.</summary>
    public static IReadOnlyList<string> RunnerArguments(string cwd, int memMiB, int? deadlineSeconds, IReadOnlyList<string> carry, IReadOnlyList<string> command)
    {
        var a = new List<string> { "--cwd", cwd, "--mem", memMiB.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (deadlineSeconds is { } d)
        {
            a.AddRange(["--deadline", d.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        foreach (string c in carry)
        {
            a.AddRange(["--carry", c]);
        }

        a.Add("--");
        a.AddRange(command);
        return a;
    }

    /// <summary>This xensharp: its apphost, or `dotnet xensharp.dll` when it runs under the dotnet host.</summary>
    private static IReadOnlyList<string> SelfCommand()
    {
        string process = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this process is unknown");
        string dll = typeof(HelperMachine).Assembly.Location;
        return Path.GetFileNameWithoutExtension(process) == "dotnet" && dll.Length > 0 ? [process, dll] : [process];
    }
}
