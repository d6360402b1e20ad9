using System.CommandLine;
using System.Reflection;
using XenSharp.Toolstack.Run;

namespace XenSharp.Cli;

/// <summary>The `xensharp` command table, like xl's: one verb per command.</summary>
public static class XenSharpCommand
{
    public static int Run(string[] args)
    {
        RootCommand root = Build();
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count == 0)
        {
            return parse.Invoke();
        }

        // Usage errors: one line each and a pointer to the help, exit status 2 as for every other usage error.
        foreach (string line in ParseErrors.Describe(parse, root))
        {
            Console.Error.WriteLine($"xensharp: {line}");
        }

        string verb = parse.CommandResult.Command == root ? "" : $" {parse.CommandResult.Command.Name}";
        Console.Error.WriteLine($"xensharp: see 'xensharp{verb} --help'");
        return DomainOutcome.UsageError;
    }

    /// <summary>The command tree: every verb with its options and arguments (the completions and the man page are built from it).</summary>
    public static RootCommand Build()
    {
        var root = new RootCommand("XenSharp: a Xen-compatible paravirtualizing hypervisor on KVM");
        root.Subcommands.Add(RunVerb.Create());
        root.Options.Add(Xl.XlVerbs.SocketOption);
        root.Subcommands.Add(DaemonVerb.Create());
        foreach (Command xlVerb in Xl.XlVerbs.Create())
        {
            root.Subcommands.Add(xlVerb);
        }

        var version = new Command("version", "Print the XenSharp version and the Xen interface it implements");
        version.SetAction(_ =>
        {
            Console.WriteLine($"xensharp {Version} (Xen {Hypervisor.XenHypervisor.XenInterfaceVersion} PV ABI, x86-64)");
            return 0;
        });
        root.Subcommands.Add(version);
        root.Subcommands.Add(Reference.CompletionsVerb.Create());
        root.Subcommands.Add(Reference.ManVerb.Create());
        return root;
    }

    public static string Version =>
        typeof(XenSharpCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}
