using System.Collections.ObjectModel;
using XenSharp.Hypervisor.Scheduling;

namespace XenSharp.Toolstack.Config;

/// <summary>A PV domain as described by an xl config file, with xl's defaults filled in.</summary>
public sealed record DomainConfig
{
    // Null until set, so that MaxMemoryMiB follows MemoryMiB for configs built in code or changed with `with`;
    // as in xl, "maxmem not given" and "maxmem equal to memory" are different things, and equality sees that.
    private readonly int? maxMemoryMiB;

    public required string Name { get; init; }

    /// <summary>Kernel image path; relative paths in the file are resolved against the file's directory.</summary>
    public required string Kernel { get; init; }

    /// <summary>Initial ramdisk path, resolved like <see cref="Kernel"/>; null when there is none.</summary>
    public string? Ramdisk { get; init; }

    /// <summary>`memory`: the initial allocation.</summary>
    public int MemoryMiB { get; init; } = 128;

    /// <summary>`maxmem`: the most the guest may balloon up to; the same as <see cref="MemoryMiB"/> unless set.</summary>
    public int MaxMemoryMiB
    {
        get => maxMemoryMiB ?? MemoryMiB;
        init => maxMemoryMiB = value;
    }

    public int Vcpus { get; init; } = 1;

    /// <summary>Kernel command line from `cmdline`, or else from `root` and `extra` combined as xl does.</summary>
    public string CommandLine { get; init; } = "";

    public ShutdownAction OnPoweroff { get; init; } = ShutdownAction.Destroy;

    public ShutdownAction OnReboot { get; init; } = ShutdownAction.Restart;

    public ShutdownAction OnCrash { get; init; } = ShutdownAction.Destroy;

    /// <summary>Domain type; only "pv" exists so far.</summary>
    public string Type { get; init; } = "pv";

    /// <summary>
    /// The domain's BVT parameters, from xl's `cpu_weight` or xm sched-bvt's `mcuadv`, and `warpback`, `warpvalue`,
    /// `warpl`, `warpu`; Xen 2.0's defaults for those not given. The builder gives them to the scheduler when it
    /// creates the domain (docs/architecture.md, "Scheduling").
    /// </summary>
    public BvtParameters Scheduling { get; init; } = new();

    /// <summary>`cpus=`: the vCPUs' hard affinity (the physical-CPU slots each may run on); null: every slot.</summary>
    public VcpuAffinity? HardAffinity { get; init; }

    /// <summary>`cpus_soft=`: the vCPUs' soft affinity, recorded and shown by vcpu-list; BVT gives it no effect. Null: every slot.</summary>
    public VcpuAffinity? SoftAffinity { get; init; }

    /// <summary>`disk=[...]`: the domain's virtual block devices, in file order; empty (a shared array) when none.</summary>
    public IReadOnlyList<DiskSpec> Disks { get; init; } = Array.Empty<DiskSpec>();

    /// <summary>`vif=[...]`: the domain's virtual network interfaces, in file order; empty (a shared array) when none.</summary>
    public IReadOnlyList<VifSpec> Vifs { get; init; } = Array.Empty<VifSpec>();

    /// <summary>`vfr_rules=[...]` (XenSharp's own key): the VFR rules of the VIFs, in file order; empty (a shared array) when none.</summary>
    public IReadOnlyList<VfrRuleSpec> VfrRules { get; init; } = Array.Empty<VfrRuleSpec>();

    /// <summary>Every setting in the file, interpreted or not, so later features can read keys this record lacks.</summary>
    public IReadOnlyDictionary<string, ConfigValue> Raw { get; init; } = ReadOnlyDictionary<string, ConfigValue>.Empty;

    /// <summary>
    /// One line for each setting of the file that XenSharp ignores ("file:line: warning: 'disk' is not supported yet
    /// and is ignored"), in file order; shown before the domains start.
    /// </summary>
    public IReadOnlyList<string> Warnings { get; init; } = Array.Empty<string>();

    /// <summary>The config file as the caller named it; empty for configs not read from a file.</summary>
    public string SourcePath { get; init; } = "";
}
