using System.CommandLine;
using System.Text.Json.Nodes;
using XenSharp.Toolstack.Daemon;

namespace XenSharp.Cli.Xl;

/// <summary>
/// xl's verbs, as clients of the daemon (docs/toolstack.md): each sends one request and prints the reply in xl's format.
/// A refusal from the daemon (an unknown domain: "NAME is an invalid domain identifier (rc=-6)") is printed as xl
/// prints it, on stderr, exit status 1.
/// </summary>
public static partial class XlVerbs
{
    /// <summary>--socket: the daemon's control socket, on every client verb (default $XENSHARP_SOCKET, else /run/xensharp/control.sock).</summary>
    public static Option<string?> SocketOption { get; } = new("--socket")
    {
        Description = "The daemon's control socket (default $XENSHARP_SOCKET, else " + ControlServer.DefaultPath + ")",
        Recursive = true,
    };

    public static IEnumerable<Command> Create()
    {
        yield return CreateVerb();
        yield return ListVerb();
        yield return DomainVerb("destroy", "Terminate a domain immediately", (c, d) => c.Request(Req("destroy", d)));
        yield return ShutdownVerb("shutdown", "Ask a domain to shut down (poweroff)");
        yield return ShutdownVerb("reboot", "Ask a domain to reboot");
        yield return DomainVerb("pause", "Pause a domain", (c, d) => c.Request(Req("pause", d)));
        yield return DomainVerb("unpause", "Unpause a domain (start one created with create -p)", (c, d) => c.Request(Req("unpause", d)));
        yield return MemoryVerb("mem-set", "Set a domain's balloon target");
        yield return MemoryVerb("mem-max", "Set a domain's memory maximum");
        yield return DomainVerb("domid", "Print a domain's id, given its name", (c, d) => Console.WriteLine(c.Request(Req("domid", d))["domid"]));
        yield return DomainVerb("domname", "Print a domain's name, given its id", (c, d) => Console.WriteLine(c.Request(Req("domname", d))["name"]?.GetValue<string>()));
        yield return RenameVerb();
        yield return InfoVerb();
        yield return DomainsVerb("uptime", "Print the uptime of domains", r => XlOutput.Uptime((JsonArray)r["domains"]!));
        yield return DmesgVerb();
        yield return DomainsVerb("vcpu-list", "List the vCPUs of domains", r => XlOutput.VcpuList((JsonArray)r["vcpus"]!));
        yield return VcpuSetVerb();
        yield return VcpuPinVerb();
        yield return SchedBvtVerb();
        yield return SysrqVerb();
        yield return ConsoleVerb();
        yield return DevicesVerb("block-list", "List a domain's virtual block devices", XlOutput.BlockList);
        yield return DevicesVerb("network-list", "List a domain's virtual network interfaces", XlOutput.NetworkList);
        foreach (Command hotplug in DeviceVerbs())
        {
            yield return hotplug;
        }

        yield return TopVerb.Create();
    }

    private static JsonObject Req(string verb, string domain) => new() { ["verb"] = verb, ["domain"] = domain };

    private static void Print(IEnumerable<string> lines)
    {
        foreach (string l in lines)
        {
            Console.WriteLine(l);
        }
    }

    /// <summary>Runs a client action: 0, or 1 with the daemon's (or the connection's) one line on stderr.</summary>
    private static int Client(ParseResult r, Action<ControlClient> action)
    {
        try
        {
            using ControlClient client = ControlClient.Connect(r.GetValue(SocketOption));
            action(client);
            return 0;
        }
        catch (DaemonException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        catch (Exception e) when (e is IOException or ControlProtocolException or System.Text.Json.JsonException)
        {
            Console.Error.WriteLine($"xensharp: the connection to the daemon failed: {e.Message}");
            return 1;
        }
    }

    private static Command DomainVerb(string name, string description, Action<ControlClient, string> action)
    {
        var domain = new Argument<string>("domain") { Description = "Domain name or id" };
        var cmd = new Command(name, description);
        cmd.Arguments.Add(domain);
        cmd.SetAction(r => Client(r, c => action(c, r.GetValue(domain)!)));
        return cmd;
    }

    private static Command DomainsVerb(string name, string description, Func<JsonObject, IEnumerable<string>> format)
    {
        var domains = new Argument<string[]>("domain") { Description = "Domain names or ids (default: all)", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command(name, description);
        cmd.Arguments.Add(domains);
        cmd.SetAction(r => Client(r, c => Print(format(c.Request(new JsonObject
        {
            ["verb"] = name,
            ["domains"] = new JsonArray([.. (r.GetValue(domains) ?? []).Select(d => (JsonNode)d)]),
        })))));
        return cmd;
    }

    private static Command RenameVerb()
    {
        var domain = new Argument<string>("domain") { Description = "Domain name or id" };
        var name = new Argument<string>("newname") { Description = "The domain's new name" };
        var cmd = new Command("rename", "Rename a domain");
        cmd.Arguments.Add(domain);
        cmd.Arguments.Add(name);
        cmd.SetAction(r => Client(r, c =>
        {
            JsonObject request = Req("rename", r.GetValue(domain)!);
            request["name"] = r.GetValue(name);
            try
            {
                c.Request(request);
            }
            catch (DaemonException e) when (!e.Message.EndsWith("(rc=-6)", StringComparison.Ordinal))
            {
                Console.Error.WriteLine(e.Message); // libxl's line, then xl's
                throw new DaemonException($"Can't rename domain '{r.GetValue(domain)}'.");
            }
        }));
        return cmd;
    }

    private static Command SysrqVerb()
    {
        var domain = new Argument<string>("domain") { Description = "Domain name or id" };
        var key = new Argument<string>("letter") { Description = "The sysrq key (one character)" };
        var cmd = new Command("sysrq", "Send a sysrq to a domain");
        cmd.Arguments.Add(domain);
        cmd.Arguments.Add(key);
        cmd.SetAction(r =>
        {
            if (r.GetValue(key)!.Length != 1)
            {
                Console.Error.WriteLine("Invalid sysrq.");
                return 1;
            }

            return Client(r, c =>
            {
                JsonObject request = Req("sysrq", r.GetValue(domain)!);
                request["key"] = r.GetValue(key);
                c.Request(request);
            });
        });
        return cmd;
    }

    private static Command VcpuSetVerb()
    {
        var domain = new Argument<string>("domain") { Description = "Domain name or id" };
        var count = new Argument<string>("vcpus") { Description = "How many vCPUs are to be online" };
        var ignoreHost = new Option<bool>("--ignore-host", "-i") { Description = "Allow more vCPUs than the host has CPUs" };
        var cmd = new Command("vcpu-set", "Set the number of a domain's active vCPUs");
        cmd.Arguments.Add(domain);
        cmd.Arguments.Add(count);
        cmd.Options.Add(ignoreHost);
        cmd.SetAction(r =>
        {
            if (!int.TryParse(r.GetValue(count), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n))
            {
                Console.Error.WriteLine("Error: Invalid argument.");
                return 1;
            }

            return Client(r, c =>
            {
                JsonObject request = Req("vcpu-set", r.GetValue(domain)!);
                request["count"] = n;
                request["ignore_host"] = r.GetValue(ignoreHost);
                c.Request(request);
            });
        });
        return cmd;
    }

    /// <summary>xl vcpu-pin DOMAIN VCPU CPUS [SOFT]: VCPU a number or all, CPUS and SOFT xl cpumaps (CPUS "-": unchanged); the daemon parses them.</summary>
    private static Command VcpuPinVerb()
    {
        var domain = new Argument<string>("domain") { Description = "Domain name or id" };
        var vcpu = new Argument<string>("vcpu") { Description = "vCPU number or all" };
        var cpus = new Argument<string[]>("cpus") { Description = "Hard (and soft) affinity", Arity = new ArgumentArity(1, 2) };
        var cmd = new Command("vcpu-pin", "Set a vCPU's hard (and soft) CPU affinity");
        cmd.Arguments.Add(domain);
        cmd.Arguments.Add(vcpu);
        cmd.Arguments.Add(cpus);
        cmd.SetAction(r => Client(r, c =>
        {
            JsonObject request = Req("vcpu-pin", r.GetValue(domain)!);
            string[] maps = r.GetValue(cpus)!;
            request["vcpu"] = r.GetValue(vcpu)!;
            request["hard"] = maps[0];
            if (maps.Length > 1)
            {
                request["soft"] = maps[1];
            }

            c.Request(request);
        }));
        return cmd;
    }

    /// <summary>xl info, or with a NAME only the values of the lines whose key starts with it (`xl info virt_caps`: `pv`).</summary>
    private static Command InfoVerb()
    {
        var name = new Argument<string?>("name") { Description = "Print only the value of this key (a prefix, as xl takes it)", Arity = ArgumentArity.ZeroOrOne };
        var cmd = new Command("info", "Print information about the hypervisor (xl info's keys)");
        cmd.Arguments.Add(name);
        cmd.SetAction(r => Client(r, c =>
        {
            IEnumerable<string> lines = XlOutput.Info((JsonArray)c.Request(new JsonObject { ["verb"] = "info" })["fields"]!);
            Print(r.GetValue(name) is { } key ? XlOutput.InfoSelect(lines, key) : lines);
        }));
        return cmd;
    }

    private static Command DevicesVerb(string name, string description, Func<JsonArray, IEnumerable<string>> format)
    {
        var domains = new Argument<string[]>("domain") { Description = "Domain names or ids", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command(name, description);
        cmd.Arguments.Add(domains);
        cmd.SetAction(r => Client(r, c => Print(format((JsonArray)c.Request(new JsonObject
        {
            ["verb"] = name,
            ["domains"] = new JsonArray([.. (r.GetValue(domains) ?? []).Select(d => (JsonNode)d)]),
        })["devices"]!))));
        return cmd;
    }

    private static Command CreateVerb()
    {
        var config = new Argument<string>("config") { Description = "xl domain config file" };
        var overrides = new Argument<string[]>("key=value") { Description = "Settings added after the file's, as xl takes them", Arity = ArgumentArity.ZeroOrMore };
        var paused = new Option<bool>("-p") { Description = "Leave the domain paused after creating it" };
        var console = new Option<bool>("-c") { Description = "Attach to the console after creating it" };
        var cmd = new Command("create", "Create a domain from an xl config file (on the daemon)");
        cmd.Arguments.Add(config);
        cmd.Arguments.Add(overrides);
        cmd.Options.Add(paused);
        cmd.Options.Add(console);
        cmd.SetAction(r =>
        {
            string path = Path.GetFullPath(r.GetValue(config)!);
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"Failed to read config file: {r.GetValue(config)}: {e.Message}");
                return 1;
            }

            Console.Error.WriteLine($"Parsing config from {r.GetValue(config)}");
            string name = "";
            int rc = Client(r, c =>
            {
                JsonObject reply = c.Request(new JsonObject
                {
                    ["verb"] = "create",
                    ["config"] = text,
                    ["path"] = path,
                    ["overrides"] = new JsonArray([.. (r.GetValue(overrides) ?? []).Select(o => (JsonNode)o)]),
                    ["paused"] = r.GetValue(paused),
                });
                foreach (JsonNode? w in reply["warnings"] as JsonArray ?? [])
                {
                    Console.Error.WriteLine($"xensharp: {w?.GetValue<string>()}");
                }

                name = reply["name"]?.GetValue<string>() ?? "";
            });
            return rc == 0 && r.GetValue(console) ? AttachConsole(r, name) : rc;
        });
        return cmd;
    }

    private static Command ListVerb()
    {
        var domains = new Argument<string[]>("domain") { Description = "Domain names or ids (default: all)", Arity = ArgumentArity.ZeroOrMore };
        var longForm = new Option<bool>("--long", "-l") { Description = "Each domain's config as JSON, as xl list -l" };
        var cmd = new Command("list", "List domains (xl list's columns)");
        cmd.Arguments.Add(domains);
        cmd.Options.Add(longForm);
        cmd.SetAction(r => Client(r, c =>
        {
            var list = (JsonArray)c.Request(new JsonObject
            {
                ["verb"] = "list",
                ["domains"] = new JsonArray([.. (r.GetValue(domains) ?? []).Select(d => (JsonNode)d)]),
            })["domains"]!;
            if (r.GetValue(longForm))
            {
                Console.WriteLine(XlOutput.ListLong(list));
            }
            else
            {
                Print(XlOutput.List(list));
            }
        }));
        return cmd;
    }

    private static Command ShutdownVerb(string name, string description)
    {
        var domain = new Argument<string>("domain") { Description = "Domain name or id" };
        var wait = new Option<bool>("-w") { Description = "Wait for the domain to end" };
        var cmd = new Command(name, description);
        cmd.Arguments.Add(domain);
        cmd.Options.Add(wait);
        cmd.SetAction(r => Client(r, c =>
        {
            bool waiting = r.GetValue(wait);
            if (waiting)
            {
                Console.Error.WriteLine("Waiting for 1 domains");
            }

            JsonObject request = Req(name, r.GetValue(domain)!);
            request["wait"] = waiting;
            JsonObject reply = c.Request(request);
            if (waiting)
            {
                Console.Error.WriteLine($"Domain {reply["domid"]} has been shut down ({reply["ending"]?.GetValue<string>()})");
            }
        }));
        return cmd;
    }

    private static Command MemoryVerb(string name, string description)
    {
        var domain = new Argument<string>("domain") { Description = "Domain name or id" };
        var memory = new Argument<string>("mem") { Description = "Memory: a number with an optional unit (b, k, m, g, t; MiB without one)" };
        var cmd = new Command(name, description);
        cmd.Arguments.Add(domain);
        cmd.Arguments.Add(memory);
        cmd.SetAction(r =>
        {
            if (!XlOutput.TryParseMemoryKb(r.GetValue(memory)!, out long kb))
            {
                Console.Error.WriteLine($"invalid memory size: {r.GetValue(memory)}");
                return 1;
            }

            return Client(r, c => c.Request(new JsonObject { ["verb"] = name, ["domain"] = r.GetValue(domain), ["memkb"] = kb }));
        });
        return cmd;
    }

    private static Command DmesgVerb()
    {
        var clear = new Option<bool>("-c") { Description = "Clear the ring after printing it" };
        var cmd = new Command("dmesg", "Print the hypervisor's console ring");
        cmd.Options.Add(clear);
        cmd.SetAction(r => Client(r, c => Print(((JsonArray)c.Request(new JsonObject { ["verb"] = "dmesg", ["clear"] = r.GetValue(clear) })["lines"]!)
            .Select(l => l?.GetValue<string>() ?? ""))));
        return cmd;
    }

    private static Command SchedBvtVerb()
    {
        var domain = new Option<string?>("--domain", "-d") { Description = "Domain name or id" };
        Option<long?>[] values =
        [
            new("--mcuadv") { Description = "MCU advance: the inverse of the domain's share" },
            new("--warpback") { Description = "1: warp when woken" },
            new("--warpvalue") { Description = "How far a warped domain runs ahead" },
            new("--warpl") { Description = "Warp limit, ms" },
            new("--warpu") { Description = "Unwarp requirement, ms" },
            new("--ctxallow") { Description = "Context-switch allowance for all domains, ms" },
        ];
        var cmd = new Command("sched-bvt", "Get or set Borrowed Virtual Time scheduler parameters (xm sched-bvt)");
        cmd.Options.Add(domain);
        foreach (Option<long?> o in values)
        {
            cmd.Options.Add(o);
        }

        cmd.SetAction(r => Client(r, c =>
        {
            var request = new JsonObject { ["verb"] = "sched-bvt" };
            if (r.GetValue(domain) is { } d)
            {
                request["domain"] = d;
            }

            bool set = false;
            foreach (Option<long?> o in values)
            {
                if (r.GetValue(o) is { } v)
                {
                    request[o.Name.TrimStart('-')] = v;
                    set = true;
                }
            }

            JsonObject reply = c.Request(request);
            if (!set)
            {
                Print(XlOutput.SchedBvt((JsonArray)reply["domains"]!));
            }
        }));
        return cmd;
    }

    private static Command ConsoleVerb()
    {
        var domain = new Argument<string>("domain") { Description = "Domain name or id" };
        var cmd = new Command("console", "Attach to a domain's console (Ctrl-] detaches)");
        cmd.Arguments.Add(domain);
        cmd.SetAction(r => AttachConsole(r, r.GetValue(domain)!));
        return cmd;
    }

    private static int AttachConsole(ParseResult r, string domain)
    {
        try
        {
            return ConsoleAttach.Run(r.GetValue(SocketOption), domain);
        }
        catch (DaemonException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
    }
}
