using System.CommandLine;
using System.Text.Json.Nodes;

namespace XenSharp.Cli.Xl;

/// <summary>
/// xl's hot-plug verbs: block-attach DOMAIN DISKSPEC..., block-detach [-f] DOMAIN VDEV|DEVID, network-attach DOMAIN
/// [key=value...], network-detach DOMAIN DEVID|MAC. The daemon parses the specs (the config's parsers, so the same
/// errors); the client sends them with its working directory, against which a relative disk target is taken, as xl does.
/// </summary>
public static partial class XlVerbs
{
    private static IEnumerable<Command> DeviceVerbs()
    {
        yield return AttachVerb("block-attach", "Attach a virtual block device to a domain", "disk-spec-component", "DISKSPEC parts, as a disk= entry's (joined by commas)", 1);
        yield return DetachVerb("block-detach", "Detach a virtual block device from a domain", "vdev", "The device: its vdev (xvda) or number (51712)", forceOption: true);
        yield return AttachVerb("network-attach", "Attach a network interface to a domain", "key=value", "VIFSPEC settings, as a vif= entry's (mac=, bridge=, devid=, ...)", 0);
        yield return DetachVerb("network-detach", "Detach a network interface from a domain", "devid|mac", "The interface: its devid or its MAC", forceOption: false);
    }

    private static Command AttachVerb(string name, string description, string specName, string specDescription, int minimumSpecs)
    {
        var domain = new Argument<string>("domain") { Description = "Domain name or id" };
        var specs = new Argument<string[]>(specName) { Description = specDescription, Arity = new ArgumentArity(minimumSpecs, 100) };
        var cmd = new Command(name, description);
        cmd.Arguments.Add(domain);
        cmd.Arguments.Add(specs);
        cmd.SetAction(r => Client(r, c =>
        {
            JsonObject request = Req(name, r.GetValue(domain)!);
            request["specs"] = new JsonArray([.. (r.GetValue(specs) ?? []).Select(s => (JsonNode)s)]);
            request["cwd"] = Environment.CurrentDirectory;
            c.Request(request);
        }));
        return cmd;
    }

    private static Command DetachVerb(string name, string description, string deviceName, string deviceDescription, bool forceOption)
    {
        var domain = new Argument<string>("domain") { Description = "Domain name or id" };
        var device = new Argument<string>(deviceName) { Description = deviceDescription };
        var force = new Option<bool>("--force", "-f") { Description = "Remove the device at once, without waiting for the guest to let it go" };
        var cmd = new Command(name, description);
        cmd.Arguments.Add(domain);
        cmd.Arguments.Add(device);
        if (forceOption)
        {
            cmd.Options.Add(force);
        }

        cmd.SetAction(r => Client(r, c =>
        {
            JsonObject request = Req(name, r.GetValue(domain)!);
            request["device"] = r.GetValue(device);
            request["force"] = forceOption && r.GetValue(force);
            c.Request(request);
        }));
        return cmd;
    }
}
