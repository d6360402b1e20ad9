namespace XenSharp.Toolstack.Config;

/// <summary>
/// Reads one DISKSPEC the way xl's disk lexer does (tools/libs/util/libxlu_disk_l.l): comma-separated parameters,
/// whitespace before each ignored; `key=value` and flags by name; anything else fills the next unset positional
/// parameter of target, format, vdev, access (a deprecated `raw:`/`phy:`-style prefix on the target fills format, so
/// `phy:/dev/vg/lv,xvda,w` reads as target, vdev, access); `target=` takes the rest of the entry, commas and all.
/// A parameter given twice, an unknown one, or a value xl rejects is an error; a value xl accepts but XenSharp does
/// not serve (qcow2, cdrom, qdisk, a hotplug script, a driver domain) is refused by name.
/// </summary>
internal sealed class DiskSpecParser
{
    private static readonly string[] IgnoredPrefixes = ["tapdisk", "tap2", "tap", "aio", "ioemu", "file", "phy"];
    private static readonly string[] FormatPrefixes = ["raw", "qcow2", "qcow", "vhd"];
    private static readonly string[] ScriptPrefixes = ["iscsi", "nbd", "enbd", "drbd"];

    private readonly string _entry;
    private string? _target;
    private string? _format;
    private string? _vdev;
    private string? _access;
    private bool _accessSet;
    private bool _cdrom;
    private bool _hadPrefix;
    private bool _discard = true;
    private bool _trusted = true;
    private bool _directIoSafe;

    private DiskSpecParser(string entry) => _entry = entry;

    /// <summary>The spec, or a <see cref="DeviceSpecException"/> whose message is the problem alone.</summary>
    public static DiskSpec Parse(string entry, string configFile, int line)
    {
        var parser = new DiskSpecParser(entry);
        parser.Scan();
        return parser.Finish(configFile, line);
    }

    private void Scan()
    {
        int p = 0;
        string s = _entry;
        while (true)
        {
            while (p < s.Length && s[p] is ' ' or '\t' or '\n')
            {
                p++;
            }

            if (p >= s.Length)
            {
                return;
            }

            if (s.AsSpan(p).StartsWith("target="))
            {
                string rest = s[(p + "target=".Length)..];
                Save("target", ref _target, rest.EndsWith(',') ? rest[..^1] : rest);
                return;
            }

            if (Prefix(s, p) is int afterPrefix)
            {
                p = afterPrefix;
                continue;
            }

            int comma = s.IndexOf(',', p);
            string token = comma < 0 ? s[p..] : s[p..comma];
            p = comma < 0 ? s.Length : comma + 1;
            Parameter(token);
        }
    }

    // A deprecated "name:" prefix at p (only where a path could follow: end of entry or a non-alphanumeric); the
    // position after its colon, or null when there is none.
    private int? Prefix(string s, int p)
    {
        int i = p;
        if (i >= s.Length || s[i] is < 'a' or > 'z')
        {
            return null;
        }

        while (i < s.Length && (s[i] is >= 'a' and <= 'z' || char.IsAsciiDigit(s[i])))
        {
            i++;
        }

        if (i >= s.Length || s[i] != ':')
        {
            return null;
        }

        string name = s[p..i];
        bool pathFollows = i + 1 >= s.Length || !(s[i + 1] is >= 'a' and <= 'z' || char.IsAsciiDigit(s[i + 1]));
        if (FormatPrefixes.Contains(name))
        {
            _hadPrefix = true;
            SetFormat(name);
        }
        else if (ScriptPrefixes.Contains(name))
        {
            throw new DeviceSpecException($"script prefix '{name}:' (script=block-{name}) is not supported yet: XenSharp runs no hotplug scripts");
        }
        else if (IgnoredPrefixes.Contains(name))
        {
            _hadPrefix = true;
        }
        else if (pathFollows)
        {
            throw new DeviceSpecException($"unknown deprecated disk prefix '{name}:'");
        }
        else
        {
            return null; // "xvda:cdrom": a positional parameter with a colon, not a prefix
        }

        return i + 1;
    }

    private void Parameter(string token)
    {
        int eq = token.IndexOf('=', StringComparison.Ordinal);
        if (eq < 0)
        {
            Flag(token);
            return;
        }

        string key = token[..eq];
        string value = token[(eq + 1)..];
        switch (key)
        {
            case "format": SetFormat(value); break;
            case "access": SetAccess(value); break;
            case "vdev": Save("vdev", ref _vdev, value); break;
            case "devtype":
                _cdrom = value switch
                {
                    "cdrom" => true,
                    "disk" => false,
                    _ => throw new DeviceSpecException($"unknown value for devtype {ConfigText.SingleQuoted(value)} (expected disk or cdrom)"),
                };
                break;
            case "backendtype":
                if (value is not ("phy" or "tap" or "qdisk" or "standalone"))
                    throw new DeviceSpecException($"unknown value for backendtype {ConfigText.SingleQuoted(value)} (expected phy, tap, qdisk or standalone)");
                if (value != "phy")
                    throw new DeviceSpecException($"backendtype {value} is not supported yet (XenSharp's own block backend serves as phy)");
                break;
            case "backend":
                if (value is not ("0" or "Domain-0" or ""))
                    throw new DeviceSpecException($"backend {ConfigText.SingleQuoted(value)} is not supported yet: no driver domains, only domain 0");
                break;
            case "script":
                throw new DeviceSpecException($"script {ConfigText.SingleQuoted(value)} is not supported yet: XenSharp runs no hotplug scripts");
            case "specification":
                if (value is not ("xen" or "virtio"))
                    throw new DeviceSpecException($"unknown value for specification {ConfigText.SingleQuoted(value)} (expected xen or virtio)");
                if (value != "xen")
                    throw new DeviceSpecException("specification virtio is not supported yet (only xen)");
                break;
            case "grant_usage" when value is "1": break;
            case "grant_usage" when value is "0":
                throw new DeviceSpecException("grant_usage=0 is not supported yet (it belongs to virtio disks)");
            case "colo-host" or "colo-port" or "colo-export" or "active-disk" or "hidden-disk":
                throw new DeviceSpecException($"{key} is not supported yet (no COLO)");
            default:
                throw new DeviceSpecException($"unknown parameter {ConfigText.SingleQuoted(token)}");
        }
    }

    private void Flag(string token)
    {
        switch (token)
        {
            case "cdrom": _cdrom = true; return;
            case "direct-io-safe": _directIoSafe = true; return;
            case "discard": _discard = true; return;
            case "no-discard": _discard = false; return;
            case "trusted": _trusted = true; return;
            case "untrusted": _trusted = false; return;
            case "no-colo": return;
            case "colo": throw new DeviceSpecException("colo is not supported yet (no COLO)");
        }

        Positional(token);
    }

    // libxl's order: target, then format (skipped after a deprecated prefix), then vdev, then access.
    private void Positional(string token)
    {
        if (_target is null)
        {
            _target = token;
        }
        else if (!_hadPrefix && _format is null)
        {
            if (_target.Length == 0 && VdevAndDevtype(token))
            {
                _format = "empty";
            }
            else
            {
                SetFormat(token);
            }
        }
        else if (_vdev is null)
        {
            if (!VdevAndDevtype(token))
            {
                _vdev = token;
            }
        }
        else if (!_accessSet)
        {
            SetAccess(token);
        }
        else
        {
            throw new DeviceSpecException($"too many positional parameters (at {ConfigText.SingleQuoted(token)})");
        }
    }

    // The deprecated "<vdev>:<devtype>" positional form; false when the token has no colon.
    private bool VdevAndDevtype(string token)
    {
        int colon = token.LastIndexOf(':');
        if (colon < 0)
        {
            return false;
        }

        Save("vdev", ref _vdev, token[..colon]);
        string type = token[(colon + 1)..];
        _cdrom = type switch
        {
            "cdrom" => true,
            "disk" => false,
            _ => throw new DeviceSpecException($"unknown deprecated type {ConfigText.SingleQuoted(type)} (expected disk or cdrom)"),
        };
        return true;
    }

    private void SetFormat(string value)
    {
        string format = value.Length == 0 ? "raw" : value;
        if (format is not ("raw" or "qcow" or "qcow2" or "vhd" or "empty" or "qed"))
        {
            throw new DeviceSpecException($"unknown value for format {ConfigText.SingleQuoted(value)} (expected raw, qcow, qcow2, vhd, qed or empty)");
        }

        Save("format", ref _format, format);
    }

    private void SetAccess(string value)
    {
        if (_accessSet)
        {
            throw new DeviceSpecException("access respecified");
        }

        _accessSet = true;
        _access = value switch
        {
            "r" or "ro" => "ro",
            "rw" or "w" or "" => "rw",
            _ => throw new DeviceSpecException($"unknown value for access {ConfigText.SingleQuoted(value)} (expected ro, r, rw or w)"),
        };
    }

    private static void Save(string what, ref string? field, string value)
    {
        if (field is not null)
        {
            throw new DeviceSpecException($"{what} respecified");
        }

        field = value;
    }

    private DiskSpec Finish(string configFile, int line)
    {
        if (_cdrom)
        {
            throw new DeviceSpecException("devtype cdrom is not supported yet (only disks)");
        }

        string format = _format ?? "raw";
        if (format != "raw")
        {
            throw new DeviceSpecException(format == "empty"
                ? "an empty disk is not supported (only a cdrom may be empty, and cdroms are not supported yet)"
                : $"format {format} is not supported yet (only raw)");
        }

        if (_vdev is null or "")
        {
            throw new DeviceSpecException("no vdev specified");
        }

        if (_target is null or "")
        {
            throw new DeviceSpecException("no target specified");
        }

        int number = VirtualDeviceNumber.Parse(_vdev)
            ?? throw new DeviceSpecException($"invalid or unsupported virtual disk identifier {ConfigText.SingleQuoted(_vdev)}");
        return new DiskSpec
        {
            Entry = _entry,
            Target = ConfigPaths.Resolve(_target, configFile),
            Vdev = _vdev,
            DeviceNumber = number,
            ReadOnly = _access == "ro",
            Discard = _discard,
            Trusted = _trusted,
            DirectIoSafe = _directIoSafe,
            Line = line,
        };
    }
}
