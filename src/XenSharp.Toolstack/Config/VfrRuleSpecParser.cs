using System.Globalization;
using XenSharp.Backends.Net;

namespace XenSharp.Toolstack.Config;

/// <summary>
/// Reads one `vfr_rules` entry: comma-separated `key=value` settings as in a vif entry — `action` allow or deny
/// (required), `vif` (a devid, default 0), `dir` out (what the VIF sends), in (what is switched to it) or both (the
/// default), `proto` tcp, udp, icmp or any (the default), `src` and `dst` (a.b.c.d or a.b.c.d/n), `sport` and `dport`
/// (a port or first-last). An unknown key, a key given twice or a malformed value is an error.
/// </summary>
internal static class VfrRuleSpecParser
{
    private const string Keys = "vif, action, dir, proto, src, dst, sport, dport";

    public static VfrRuleSpec Parse(string entry, int line)
    {
        int deviceId = 0;
        VfrAction? action = null;
        var rule = new VfrRule(VfrAction.Allow);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string piece in entry.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            string token = piece.Trim(' ');
            int eq = token.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                throw new DeviceSpecException($"{ConfigText.SingleQuoted(token)} is not key=value (keys: {Keys})");
            }

            string key = token[..eq];
            string value = token[(eq + 1)..];
            if (!seen.Add(key))
            {
                throw new DeviceSpecException($"{key} is given twice");
            }

            switch (key)
            {
                case "vif":
                    deviceId = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int d)
                        ? d
                        : throw new DeviceSpecException($"invalid vif {ConfigText.SingleQuoted(value)} (expected a devid, e.g. 0)");
                    break;
                case "action":
                    action = value switch
                    {
                        "allow" => VfrAction.Allow,
                        "deny" => VfrAction.Deny,
                        _ => throw new DeviceSpecException($"invalid action {ConfigText.SingleQuoted(value)} (expected allow or deny)"),
                    };
                    break;
                case "dir":
                    rule = rule with
                    {
                        Direction = value switch
                        {
                            "out" => VfrDirection.FromVif,
                            "in" => VfrDirection.ToVif,
                            "both" => VfrDirection.Both,
                            _ => throw new DeviceSpecException($"invalid dir {ConfigText.SingleQuoted(value)} (expected out, in or both)"),
                        },
                    };
                    break;
                case "proto":
                    rule = rule with
                    {
                        Protocol = value switch
                        {
                            "tcp" => VfrProtocol.Tcp,
                            "udp" => VfrProtocol.Udp,
                            "icmp" => VfrProtocol.Icmp,
                            "any" => VfrProtocol.Any,
                            _ => throw new DeviceSpecException($"invalid proto {ConfigText.SingleQuoted(value)} (expected tcp, udp, icmp or any)"),
                        },
                    };
                    break;
                case "src":
                    rule = rule with { Source = Prefix(key, value) };
                    break;
                case "dst":
                    rule = rule with { Destination = Prefix(key, value) };
                    break;
                case "sport":
                    rule = rule with { SourcePorts = Ports(key, value) };
                    break;
                case "dport":
                    rule = rule with { DestinationPorts = Ports(key, value) };
                    break;
                default:
                    throw new DeviceSpecException($"unknown key {ConfigText.SingleQuoted(key)} (keys: {Keys})");
            }
        }

        if (action is not { } a)
        {
            throw new DeviceSpecException("no action (action=allow or action=deny)");
        }

        if ((rule.SourcePorts is not null || rule.DestinationPorts is not null) && rule.Protocol is VfrProtocol.Icmp)
        {
            throw new DeviceSpecException("sport and dport need proto tcp, udp or any (ICMP has no ports)");
        }

        return new VfrRuleSpec { Entry = entry, DeviceId = deviceId, Rule = rule with { Action = a }, Line = line };
    }

    private static Ipv4Prefix Prefix(string key, string value) =>
        Ipv4Prefix.TryParse(value) ?? throw new DeviceSpecException($"invalid {key} {ConfigText.SingleQuoted(value)} (expected a.b.c.d or a.b.c.d/n)");

    private static VfrPortRange Ports(string key, string value)
    {
        int dash = value.IndexOf('-', StringComparison.Ordinal);
        if (Port(dash < 0 ? value : value[..dash]) is { } first && (dash < 0 ? first : Port(value[(dash + 1)..])) is { } last && first <= last)
        {
            return new VfrPortRange(first, last);
        }

        throw new DeviceSpecException($"invalid {key} {ConfigText.SingleQuoted(value)} (expected a port or first-last, 0 to 65535)");
    }

    private static ushort? Port(string text) =>
        ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ushort p) ? p : null;
}
