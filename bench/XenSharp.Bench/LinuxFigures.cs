using XenSharp.Hypervisor;
using static XenSharp.Bench.Report;

namespace XenSharp.Bench;

/// <summary>
/// Figures (e), (f) and (g), the Linux ones (bench/README.md): (e) the paper's lmbench rows natively and in the Linux
/// domU, (f) the boot to busybox's prompt beside the xen-oracle's boot of the same kernel, (g) the host-side CPU time
/// of the exits a Linux boot makes most, in process. (e)'s guest column and (f)'s XenSharp column need /dev/kvm, or
/// --emulated (where there is none, `xensharp run` then runs on kvm_amd inside QEMU's emulated CPU, as it does for a
/// user); without either they say "skipped: no /dev/kvm". The rest is measured on every machine.
/// </summary>
public static class LinuxFigures
{
    public const string NoKvm = "skipped: no /dev/kvm";

    /// <summary>Where the guest of (e) and (f) runs with --emulated on a host without /dev/kvm.</summary>
    public const string EmulatedWhere = "kvm_amd inside QEMU's emulated CPU on this machine (no /dev/kvm: `xensharp run`'s fallback, --emulated)";

    /// <summary>Xen's hypercall round trip on x86 as published: Dall et al., ISCA 2016, Table III (bench/README.md).</summary>
    public const double XenPublishedHypercallCycles = 1228;

    public static void Run(BenchOptions o, Report report, MachineInfo machine, bool hasKvm, Action<string> progress)
    {
        string Repo(string relative) => Path.Combine(o.Repo, relative);
        string linuxCfg = Repo("examples/linux.cfg");
        string vmlinuz = Repo("out/linux/vmlinuz"), initramfs = Repo("out/linux/initramfs.cpio.gz");
        bool guest = (hasKvm || o.Emulated) && (o.Runs('e') || o.Runs('f'));
        string where = hasKvm ? machine.KvmWhere : o.Emulated ? EmulatedWhere : "no /dev/kvm";
        bool oracle = o.Runs('f') && o.Oracle is not null && File.Exists(o.Oracle);
        if (guest || oracle)
        {
            PrepareLinux(o.Repo, progress);
        }

        LinuxGuestBench.Result? linux = null;
        string guestWhy = NoKvm;
        if (guest)
        {
            progress($"(e, f) booting Linux (examples/linux.cfg) on {where}, lmbench-rows {o.LmbenchDivisor} at its prompt (limit {o.LinuxTimeout} s) ...");
            try
            {
                linux = LinuxGuestBench.Run(o.CliDll, linuxCfg, o.Repo, o.LmbenchDivisor, TimeSpan.FromSeconds(o.LinuxTimeout), progress);
            }
            catch (BenchException e)
            {
                guestWhy = "not measured: " + e.Message.Split('\n')[0];
                progress($"(e, f) the Linux guest failed: {e.Message}");
            }
        }

        if (o.Runs('e'))
        {
            progress($"(e) lmbench-rows {o.LmbenchDivisor} natively ...");
            using NativeLmbench native = NativeLmbench.Compile(Repo("bench/native/lmbench-rows.c"));
            LmbenchOutput host = native.Run(o.LmbenchDivisor);
            LmbenchOutput? inGuest = linux?.Lmbench;
            string missing = inGuest is { Problem: { } p } ? "not measured: " + p : guestWhy;
            report.Table(
                Invariant($"(e) the paper's lmbench rows: bench/native/lmbench-rows.c natively and in the Linux domU (examples/linux.cfg, 2 vCPUs) on {where}, divisor {o.LmbenchDivisor}; per operation"),
                LmbenchTable.Columns,
                LmbenchTable.Build(host, inGuest, missing));
            if (linux is not null)
            {
                report.Line("");
                report.Line(Invariant($"The guest's lmbench-rows took {linux.LmbenchSeconds:0.0} s of wall clock from the typed command to its last line."));
            }
        }

        if (o.Runs('f'))
        {
            OracleBoot.Result? reference = null;
            string oracleWhy = o.Oracle is null ? "not measured: no --oracle (bench/run passes ../shared/tools/xen-oracle where it exists)" : $"not measured: {o.Oracle}: no such file";
            if (oracle)
            {
                progress($"(f) the oracle: Xen 4.17 boots the same kernel and initramfs as dom0 on QEMU's software CPU ({o.Oracle}) ...");
                try
                {
                    reference = OracleBoot.Run(o.Oracle!, vmlinuz, initramfs, 240);
                }
                catch (BenchException e)
                {
                    oracleWhy = "not measured: " + e.Message.Split('\n')[0];
                }
            }

            string S(double? seconds) => seconds is { } s ? Invariant($"{s:0.00} s") : "–";
            string Ratio(double? ours, double? theirs) => ours is { } a && theirs is { } b && b > 0 ? "XenSharp/oracle " + Times(a / b) : "–";
            string ours = linux is null ? guestWhy : "";
            string theirs = reference is null ? oracleWhy : "";
            report.Table(
                Invariant($"(f) Linux boot to busybox's prompt: XenSharp (domU, 512 MiB, 2 vCPUs, on {where}) beside the oracle (Xen 4.17 dom0, 512 MiB, 1 vCPU, QEMU TCG on this machine)"),
                ["measurement", "XenSharp", "oracle", "ratio"],
                [
                    ["the kernel's printk time of \"Run /init as init process\" (the guest's clock from its start)",
                        linux is null ? ours : S(linux.KernelRunInit), reference is null ? theirs : S(reference.KernelRunInit), Ratio(linux?.KernelRunInit, reference?.KernelRunInit)],
                    ["the guest's uptime at \"linux-guest: /init done\" (tools/linux-guest's /init, after loading the frontends)",
                        linux is null ? ours : S(linux.InitDone), reference is null ? theirs : S(reference.InitDone), Ratio(linux?.InitDone, reference?.InitDone)],
                    ["wall clock: process start → \"Run /init\" on its stdout",
                        linux is null ? ours : S(linux.RunInitSeconds), "– (the oracle prints its console only at its end)", "–"],
                    ["wall clock: process start → busybox's prompt (`xensharp run examples/linux.cfg`); the oracle: its whole run, QEMU start to its end after the prompt",
                        linux is null ? ours : S(linux.PromptSeconds),
                        reference is null ? theirs : S(reference.WallSeconds) + (reference.Prompt ? " (prompt reached)" : " (no prompt)"),
                        linux is not null && reference is { Prompt: true } ? "XenSharp/oracle ≥ " + Times(linux.PromptSeconds / reference.WallSeconds) : "–"],
                ]);
            if (linux?.ExitStats is { } exits)
            {
                report.Line("");
                report.Line("Exits of that boot and the lmbench run (`--exit-stats`): `" + exits + "`");
            }
        }

        if (o.Runs('g'))
        {
            const int Rounds = 11;
            progress($"(g) host-side cost of the common exits, in process on heap memory: {Rounds} rounds of {o.ExitN} each ...");
            ExitCostBench.Measurement m;
            using (ExitCostBench bench = ExitCostBench.Create(Repo("guests/build/hello.elf")))
            {
                m = bench.Measure(o.ExitN, Rounds);
            }

            using NativeBaselines native = NativeBaselines.Compile(Repo("bench/native/baselines.c"));
            double tscHz = native.TscHz();
            double xen = XenPublishedHypercallCycles / tscHz;
            IReadOnlyDictionary<string, long> counts = linux?.ExitStats is { } line ? ExitStatsLine.Parse(line) : new Dictionary<string, long>();
            string InBoot(string key, double seconds) =>
                counts.TryGetValue(key, out long k)
                    ? Invariant($"{k} → {k * seconds * 1e3:0.0} ms{(key == "vectors/#PF" ? " (all #PFs)" : "")}")
                    : linux is null ? "– (no Linux run here)" : "– (not among the line's ten largest)";
            report.Table(
                Invariant($"(g) host-side CPU time per exit, in process on heap memory (no KVM; guests/build/hello.elf's domain, its vCPU never run); median of {Rounds} rounds of {o.ExitN}; baseline: mean of one run just before and one just after the exits"),
                ["measurement", "per exit", "ratio", "count in (f)'s Linux run → host CPU"],
                m.Exits.Select(c => new[]
                {
                    $"`{c.Name}`: {c.Meaning}",
                    Us(c.Seconds),
                    "exit/null " + Times(c.Seconds / m.Null) + " · exit/Xen " + Times(c.Seconds / xen),
                    InBoot(c.CountKey, c.Seconds),
                }).Prepend(
                [
                    Invariant($"baseline **null hypercall**: `xen_version(XENVER_version)` (before {Us(m.NullBefore)}, after {Us(m.NullAfter)})"),
                    Us(m.Null), "1 (baseline) · null/Xen " + Times(m.Null / xen), InBoot("hypercalls/xen_version", m.Null),
                ]).Append(
                [
                    Invariant($"baseline **Xen**: Xen's published hypercall round trip on x86, {XenPublishedHypercallCycles:0} cycles (Dall et al., ISCA 2016, Table III), at this host's {tscHz / 1e9:0.000} GHz TSC"),
                    Us(xen), "1 (baseline)", "",
                ]));
            report.Line("");
            report.Line("Host side only: on hardware KVM an exit also costs the CPU's VM exit and entry (and, for XenSharp, the stub's ring-0 code and KVM_RUN's return to the process), which is the machine's, not ours; (a) measures the whole round trip where there is KVM.");
        }
    }

    /// <summary>out/linux as ./xensharp prepares it: tools/linux-guest downloads and builds what is missing, says so, and is silent otherwise.</summary>
    public static void PrepareLinux(string repo, Action<string> progress)
    {
        ProcessResult r = ProcessResult.Run(Path.Combine(repo, "tools/linux-guest"), [], repo);
        foreach (string line in r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            progress(line);
        }

        if (r.ExitCode != 0)
        {
            throw new BenchException($"tools/linux-guest could not prepare the Linux guest (exit {r.ExitCode})");
        }
    }
}
