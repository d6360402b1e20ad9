using System.Globalization;
using System.Text.RegularExpressions;

namespace XenSharp.Toolstack.Config;

/// <summary>
/// Reads one vif entry as xl's parse_nic_config does: split at commas (empty pieces skipped), leading spaces dropped,
/// each piece a `key=value` of a known key; an unrecognised key or a malformed mac, type or rate is an error, and a
/// setting XenSharp cannot honour (a hotplug script, a driver domain, COLO) is refused by name.
/// </summary>
internal static partial class VifSpecParser
{
    private const uint DefaultIntervalUs = 50_000;

    public static VifSpec Parse(string entry, int index, int line)
    {
        var spec = new VifSpec { Entry = entry, DeviceId = index, Line = line };
        foreach (string piece in entry.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            string token = piece.TrimStart(' ');
            int eq = token.IndexOf('=', StringComparison.Ordinal);
            string key = eq < 0 ? token : token[..eq];
            string value = eq < 0 ? "" : token[(eq + 1)..];
            if (eq < 0)
            {
                throw new DeviceSpecException($"unrecognized argument {ConfigText.SingleQuoted(token)}");
            }

            spec = key switch
            {
                "type" => spec with
                {
                    Type = value is "vif" or "ioemu" ? value : throw new DeviceSpecException($"invalid type {ConfigText.SingleQuoted(value)} (expected vif or ioemu)"),
                },
                "mac" => spec with { Mac = Mac(value) },
                "bridge" => spec with { Bridge = value },
                "netdev" or "gatewaydev" => spec with { GatewayDev = value },
                "ip" => spec with { Ip = value },
                "vifname" => spec with { VifName = value },
                "model" => spec with { Model = value },
                "rate" => spec with { Rate = Rate(value) },
                "devid" => spec with { DeviceId = Number("devid", value, int.MaxValue) },
                "mtu" => spec with { Mtu = Number("mtu", value, 65535) },
                "accel" => spec, // xl: "currently not supported", and goes on
                "script" => throw new DeviceSpecException($"script {ConfigText.SingleQuoted(value)} is not supported yet: XenSharp runs no hotplug scripts"),
                "backend" when value is not ("0" or "Domain-0") =>
                    throw new DeviceSpecException($"backend {ConfigText.SingleQuoted(value)} is not supported yet: no driver domains, only domain 0"),
                "backend" => spec,
                _ when key.StartsWith("colo_", StringComparison.Ordinal) || key == "forwarddev" =>
                    throw new DeviceSpecException($"{key} is not supported yet (no COLO)"),
                _ => throw new DeviceSpecException($"unrecognized argument {ConfigText.SingleQuoted(token)}"),
            };
        }

        return spec;
    }

    // Six hex octets separated by ':' (xl reads each with strtoul base 16 and skips one separator).
    private static byte[] Mac(string value)
    {
        string[] parts = value.Split(':');
        var mac = new byte[6];
        bool ok = parts.Length == 6;
        for (int i = 0; ok && i < 6; i++)
        {
            ok = parts[i].Length is 1 or 2 && byte.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out mac[i]);
        }

        if (!ok)
        {
            throw new DeviceSpecException($"invalid mac {ConfigText.SingleQuoted(value)} (expected six hex octets, e.g. 00:16:3e:00:00:01)");
        }

        if ((mac[0] & 1) != 0)
        {
            throw new DeviceSpecException($"invalid mac {ConfigText.SingleQuoted(value)}: a multicast address");
        }

        return mac;
    }

    // xlu_vif_parse_rate's grammar: <number>[GMK](B|b)/s[@<number>[mu]s]; bits are divided by 8.
    private static VifRate Rate(string value)
    {
        Match m = RatePattern().Match(value);
        if (!m.Success)
        {
            throw new DeviceSpecException($"invalid rate {ConfigText.SingleQuoted(value)} (expected e.g. 10Mb/s or 1MB/s@20ms)");
        }

        if (!ulong.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong amount) || amount == 0)
        {
            throw new DeviceSpecException($"invalid rate {ConfigText.SingleQuoted(value)}: the rate must be a positive number");
        }

        ulong scale = m.Groups[2].Value switch { "G" => 1_000_000_000, "M" => 1_000_000, "K" => 1_000, _ => 1 };
        UInt128 bytesPerSecond = (UInt128)amount * scale;
        if (m.Groups[3].Value == "b")
        {
            bytesPerSecond /= 8;
        }

        uint intervalUs = DefaultIntervalUs;
        if (m.Groups[4].Success)
        {
            ulong unit = m.Groups[6].Value switch { "m" => 1_000, "u" => 1, _ => 1_000_000 };
            if (!ulong.TryParse(m.Groups[5].Value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong interval)
                || interval == 0 || (UInt128)interval * unit > uint.MaxValue)
            {
                throw new DeviceSpecException($"invalid rate {ConfigText.SingleQuoted(value)}: the interval must be from 1 us to {uint.MaxValue} us");
            }

            intervalUs = (uint)(interval * unit);
        }

        UInt128 perInterval = bytesPerSecond * intervalUs / 1_000_000;
        if (perInterval == 0 || perInterval > ulong.MaxValue)
        {
            throw new DeviceSpecException($"invalid rate {ConfigText.SingleQuoted(value)}: it allows {(perInterval == 0 ? "no" : "too many")} bytes per interval");
        }

        return new VifRate((ulong)perInterval, intervalUs);
    }

    private static int Number(string key, string value, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n <= max && (key != "mtu" || n > 0)
            ? n
            : throw new DeviceSpecException($"invalid {key} {ConfigText.SingleQuoted(value)} (expected a number up to {max})");

    [GeneratedRegex(@"^([0-9]+)([GMK]?)([Bb])/s(@([0-9]+)([mu]?)s)?$")]
    private static partial Regex RatePattern();
}
