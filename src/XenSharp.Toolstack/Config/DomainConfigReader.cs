using XenSharp.Hypervisor.Scheduling;

namespace XenSharp.Toolstack.Config;

/// <summary>
/// Turns raw settings into a <see cref="DomainConfig"/>, checking the keys we understand (<see cref="XlKeys.Understood"/>)
/// and noting a warning for each other key.
/// </summary>
internal sealed class DomainConfigReader
{
    private const int MaxVcpus = 128;

    private readonly IReadOnlyDictionary<string, ConfigValue> settings;
    private readonly string file;

    private DomainConfigReader(IReadOnlyDictionary<string, ConfigValue> settings, string file)
    {
        this.settings = settings;
        this.file = file;
    }

    public static DomainConfig Read(IReadOnlyDictionary<string, ConfigValue> settings, string sourcePath) =>
        new DomainConfigReader(settings, sourcePath).Read();

    private DomainConfig Read()
    {
        // Kernel first: an empty or unrelated file is best answered with what it most obviously lacks. A file that
        // leaves the kernel to a bootloader (pygrub) lacks it for a reason we can name.
        if (!settings.ContainsKey("kernel") && settings.TryGetValue("bootloader", out var bootloader))
        {
            throw Error(
                bootloader,
                $"bootloader {Quoted(bootloader)} is not supported; XenSharp boots only a 'kernel' named in the config, and this config names none");
        }

        ConfigValue kernelValue = Required("kernel");
        ConfigValue nameValue = Required("name");

        string kernel = NonEmptyString("kernel", kernelValue);
        string name = DomainName(nameValue);
        string? ramdisk = OptionalString("ramdisk");

        int memory = PositiveNumber("memory", "MiB", int.MaxValue) ?? 128;
        int? maxMemory = PositiveNumber("maxmem", "MiB", int.MaxValue);
        if (maxMemory < memory)
            throw Error(settings["maxmem"], $"maxmem ({maxMemory} MiB) must not be less than memory ({memory} MiB)");

        IReadOnlyList<VifSpec> vifs = Vifs();
        var config = new DomainConfig
        {
            Name = name,
            Kernel = ConfigPaths.Resolve(kernel, file),
            Ramdisk = string.IsNullOrEmpty(ramdisk) ? null : ConfigPaths.Resolve(ramdisk, file),
            MemoryMiB = memory,
            Vcpus = PositiveNumber("vcpus", null, MaxVcpus) ?? 1,
            CommandLine = CommandLine(),
            OnPoweroff = Action("on_poweroff") ?? ShutdownAction.Destroy,
            OnReboot = Action("on_reboot") ?? ShutdownAction.Restart,
            OnCrash = Action("on_crash") ?? ShutdownAction.Destroy,
            Type = DomainType(),
            Scheduling = Scheduling(),
            HardAffinity = Affinity("cpus"),
            SoftAffinity = Affinity("cpus_soft"),
            Disks = Disks(),
            Vifs = vifs,
            VfrRules = VfrRules(vifs),
            Raw = settings,
            Warnings = Warnings(),
            SourcePath = file,
        };
        // Left unset without `maxmem`, so it keeps following MemoryMiB as in a config built in code.
        return maxMemory is int max ? config with { MaxMemoryMiB = max } : config;
    }

    private IReadOnlyList<string> Warnings()
    {
        List<string> warnings = settings
            .Select(s => (s.Key, s.Value.Line, Detail: XlKeys.Warning(s.Key)))
            .Where(w => w.Detail is not null)
            .OrderBy(w => w.Line)
            .Select(w => w.Line > 0 ? $"{file}:{w.Line}: warning: {w.Detail}" : $"{file}: warning: {w.Detail}")
            .ToList();
        return warnings.Count > 0 ? warnings : Array.Empty<string>(); // shared, so configs without warnings compare equal
    }

    private static string Quoted(ConfigValue value) =>
        value is ConfigString s ? ConfigText.SingleQuoted(s.Value) : ConfigText.Describe(value);

    private ConfigValue Required(string key) =>
        settings.TryGetValue(key, out var value) ? value : throw new ConfigException(file, 0, $"no '{key}' setting");

    private string NonEmptyString(string key, ConfigValue value)
    {
        string text = StringOf(key, value);
        return text.Length > 0 ? text : throw Error(value, $"{key} must not be empty");
    }

    private string DomainName(ConfigValue value)
    {
        string name = NonEmptyString("name", value);
        string quoted = ConfigText.SingleQuoted(name);
        if (string.IsNullOrWhiteSpace(name))
            throw Error(value, $"name {quoted} must not be only whitespace");
        if (name.Contains('/'))
            throw Error(value, $"name {quoted} must not contain '/'");
        // xl takes an all-digit argument to mean a domain id, so such a domain could never be named on its command line.
        if (name.All(char.IsAsciiDigit))
            throw Error(value, $"name {quoted} must not be all digits (xl would read it as a domain id)");
        return name;
    }

    private string? OptionalString(string key) =>
        settings.TryGetValue(key, out var value) ? StringOf(key, value) : null;

    private string StringOf(string key, ConfigValue value) =>
        value is ConfigString s ? s.Value : throw Error(value, $"{key} must be a string, got {ConfigText.Describe(value)}");

    // xl reads numbers from quoted strings too ("128"), so both forms go through the same strtol-like rules.
    private int? PositiveNumber(string key, string? unit, int max)
    {
        if (!settings.TryGetValue(key, out var value))
            return null;

        long number = 0;
        bool ok = value switch
        {
            ConfigNumber n => (number = n.Value) > 0,
            ConfigString s => XlNumber.Parse(s.Value, out number) == NumberParse.Ok && number > 0,
            _ => false,
        };
        if (!ok)
            throw Error(value, $"{key} must be a positive number{(unit is null ? "" : $" of {unit}")}, got {ConfigText.Describe(value)}");
        if (number > max)
            throw Error(value, $"{key} must be at most {max}{(unit is null ? "" : $" {unit}")}, got {ConfigText.Describe(value)}");
        return (int)number;
    }

    // xl's rule: cmdline wins outright; otherwise root becomes "root=<v>" in front of extra.
    private string CommandLine()
    {
        string? cmdline = OptionalString("cmdline");
        string? root = OptionalString("root");
        string? extra = OptionalString("extra");
        if (cmdline is not null)
            return cmdline;
        if (root is not null)
            return extra is null ? $"root={root}" : $"root={root} {extra}";
        return extra ?? "";
    }

    private ShutdownAction? Action(string key)
    {
        if (!settings.TryGetValue(key, out var value))
            return null;
        string name = StringOf(key, value);
        return ShutdownActionNames.TryParse(name, out var action)
            ? action
            : throw Error(value, $"unknown {key} action {ConfigText.SingleQuoted(name)} (expected {ShutdownActionNames.All})");
    }

    // `builder` is the spelling xl deprecated in 4.10 for `type`; xl accepts both but refuses them disagreeing.
    // xl compares these names by prefix ("p" means pv); we want the whole word, which every real config uses.
    private string DomainType()
    {
        string? type = null;
        ConfigValue? decidedBy = null;
        if (settings.TryGetValue("type", out var typeValue))
        {
            string text = StringOf("type", typeValue);
            type = text is "pv" or "pvh" or "hvm"
                ? text
                : throw Error(typeValue, $"unknown type {ConfigText.SingleQuoted(text)} (expected pv, pvh or hvm)");
            decidedBy = typeValue;
        }

        if (settings.TryGetValue("builder", out var builderValue))
        {
            string text = StringOf("builder", builderValue);
            string builderType = text switch
            {
                "generic" => "pv",
                "hvm" => "hvm",
                _ => throw Error(builderValue, $"unknown builder {ConfigText.SingleQuoted(text)} (expected generic or hvm)"),
            };
            if (type is not null && type != builderType)
                throw Error(builderValue, $"builder {ConfigText.SingleQuoted(text)} contradicts type {ConfigText.SingleQuoted(type)}");
            type = builderType;
            decidedBy ??= builderValue;
        }

        return type is null or "pv"
            ? "pv"
            : throw Error(decidedBy!, $"{type} domains are not supported (only pv)");
    }

    // The CPU share comes from xl's cpu_weight or from xm sched-bvt's mcuadv, not both; the warp settings are named
    // after sched-bvt's other arguments, in its units (warpvalue in Xen's virtual-time units, warpl and warpu in ms).
    private BvtParameters Scheduling()
    {
        long? weight = RangedNumber("cpu_weight", 1, 65535);
        long? mcuadv = RangedNumber("mcuadv", 1, BvtParameters.MaxMcuAdvance / BvtParameters.Unit);
        if (weight is not null && mcuadv is not null)
            throw Error(settings["mcuadv"], "cpu_weight and mcuadv both set the domain's CPU share; give one of them");
        long? warpback = RangedNumber("warpback", 0, 1);
        long? warpvalue = RangedNumber("warpvalue", 0, int.MaxValue);
        long? warpl = RangedNumber("warpl", 0, int.MaxValue, " ms");
        long? warpu = RangedNumber("warpu", 0, int.MaxValue, " ms");

        var defaults = new BvtParameters();
        return new BvtParameters
        {
            McuAdvance = weight is long w ? BvtParameters.McuAdvanceOfWeight((int)w)
                : mcuadv is long m ? m * BvtParameters.Unit
                : defaults.McuAdvance,
            WarpBack = warpback == 1,
            WarpValue = (warpvalue ?? 0) * BvtParameters.Unit,
            WarpLimitNs = warpl is long l ? l * 1_000_000 : defaults.WarpLimitNs,
            UnwarpRequirementNs = warpu is long u ? u * 1_000_000 : defaults.UnwarpRequirementNs,
        };
    }

    // Each entry through xl's disk grammar; two disks may not claim one virtual device.
    private IReadOnlyList<DiskSpec> Disks()
    {
        var disks = new List<DiskSpec>();
        foreach ((string entry, int line) in Entries("disk"))
        {
            DiskSpec disk = Device("disk", entry, line, () => DiskSpecParser.Parse(entry, file, line));
            if (disks.Find(d => d.DeviceNumber == disk.DeviceNumber) is { } other)
            {
                throw new ConfigException(file, line, $"disk {ConfigText.SingleQuoted(entry)}: vdev {disk.Vdev} is device {disk.DeviceNumber}, already used by disk {ConfigText.SingleQuoted(other.Entry)}");
            }

            disks.Add(disk);
        }

        return disks.Count > 0 ? disks : Array.Empty<DiskSpec>();
    }

    private IReadOnlyList<VifSpec> Vifs()
    {
        var vifs = new List<VifSpec>();
        foreach ((string entry, int line) in Entries("vif"))
        {
            VifSpec vif = Device("vif", entry, line, () => VifSpecParser.Parse(entry, vifs.Count, line));
            if (vifs.Find(v => v.DeviceId == vif.DeviceId) is { } other)
            {
                throw new ConfigException(file, line, $"vif {ConfigText.SingleQuoted(entry)}: devid {vif.DeviceId} is already used by vif {ConfigText.SingleQuoted(other.Entry)}");
            }

            vifs.Add(vif);
        }

        return vifs.Count > 0 ? vifs : Array.Empty<VifSpec>();
    }

    // Each entry through VfrRuleSpecParser; a rule must name a vif of this domain.
    private IReadOnlyList<VfrRuleSpec> VfrRules(IReadOnlyList<VifSpec> vifs)
    {
        var rules = new List<VfrRuleSpec>();
        foreach ((string entry, int line) in Entries("vfr_rules"))
        {
            VfrRuleSpec rule = Device("vfr_rules", entry, line, () => VfrRuleSpecParser.Parse(entry, line));
            if (!vifs.Any(v => v.DeviceId == rule.DeviceId))
            {
                throw new ConfigException(file, line, $"vfr_rules {ConfigText.SingleQuoted(entry)}: no vif has devid {rule.DeviceId}");
            }

            rules.Add(rule);
        }

        return rules.Count > 0 ? rules : Array.Empty<VfrRuleSpec>();
    }

    // cpus= / cpus_soft=: a cpumap string for every vCPU, or a list of them, one per vCPU; the syntax checked here, the
    // CPUs against the host when the domain is built. 4096 stands for "a host large enough for any CPU named".
    private VcpuAffinity? Affinity(string key)
    {
        const int AnyHost = 4096;
        if (!settings.TryGetValue(key, out var value))
            return null;
        string Checked(string text, int line)
        {
            try
            {
                XlCpuMap.Parse(text, AnyHost);
                return text;
            }
            catch (CpuMapException e)
            {
                throw new ConfigException(file, line, $"{key}: {e.Message}");
            }
        }

        return value switch
        {
            ConfigString s => new VcpuAffinity(key, Checked(s.Value, s.Line), Array.Empty<string>(), s.Line),
            ConfigList list => new VcpuAffinity(key, null, Entries(key).Select(e => Checked(e.Entry, e.Line)).ToArray(), list.Line),
            _ => throw Error(value, $"{key} must be a string or a list of strings, got {ConfigText.Describe(value)}"),
        };
    }

    // The strings of a device list with their lines; xl wants a list of strings.
    private IEnumerable<(string Entry, int Line)> Entries(string key)
    {
        if (!settings.TryGetValue(key, out var value))
            return [];
        if (value is not ConfigList list)
            throw Error(value, $"{key} must be a list of strings, got {ConfigText.Describe(value)}");
        return list.Items.Select(item => item is ConfigString s
            ? (s.Value, s.Line)
            : throw Error(item, $"each {key} entry must be a string, got {ConfigText.Describe(item)}"));
    }

    private T Device<T>(string key, string entry, int line, Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (DeviceSpecException e)
        {
            throw new ConfigException(file, line, $"{key} {ConfigText.SingleQuoted(entry)}: {e.Message}");
        }
    }

    // A whole number from min to max, bare or quoted as xl reads them; null when the key is absent.
    private long? RangedNumber(string key, long min, long max, string unit = "")
    {
        if (!settings.TryGetValue(key, out var value))
            return null;
        long number = 0;
        bool ok = value switch
        {
            ConfigNumber n => (number = n.Value) >= min && number <= max,
            ConfigString s => XlNumber.Parse(s.Value, out number) == NumberParse.Ok && number >= min && number <= max,
            _ => false,
        };
        return ok
            ? number
            : throw Error(value, $"{key} must be a number from {min} to {max}{unit}, got {ConfigText.Describe(value)}");
    }

    private ConfigException Error(ConfigValue value, string detail) => new(file, value.Line, detail);
}
