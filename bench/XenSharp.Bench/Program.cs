using XenSharp.Bench;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Logging;
using XenSharp.Kvm;
using static XenSharp.Bench.Report;

long started = Clock.Now;
void Progress(string message) => Console.Error.WriteLine(Invariant($"bench [{Clock.Seconds(started, Clock.Now),5:0.0} s]: {message}"));

try
{
    BenchOptions o = BenchOptions.Parse(args);
    string Repo(string relative) => Path.Combine(o.Repo, relative);
    string helloCfg = Repo("examples/hello.cfg");
    string benchGuest = Repo("guests/build/bench-hypercall.elf");
    string pvGuest = Repo("guests/build/bench-pv.elf");
    string timerGuest = Repo("guests/build/bench-timer.elf");
    string schedGuest = Repo("guests/build/sched.elf");
    foreach (string f in new[] { o.CliDll, helloCfg, benchGuest, pvGuest, timerGuest, schedGuest })
    {
        if (!File.Exists(f))
        {
            throw new BenchException($"{f}: no such file (bench/run builds it)");
        }
    }

    MachineInfo machine = MachineInfo.Collect(o.Repo);
    var report = new Report("XenSharp benchmarks");
    report.Line(Invariant($"{machine.Date} · KVM: {machine.Kvm} · CPU: {machine.Cpu} ×{machine.Cpus} · kernel {machine.Kernel} · {machine.Runtime} · load {machine.LoadAverage} at start · commit {machine.Commit}"));
    Progress($"{machine.Kvm} KVM, {machine.Cpu} x{machine.Cpus}, load {machine.LoadAverage}");
    bool hasKvm = File.Exists(XenHypervisor.KvmDevice);
    if (!hasKvm)
    {
        report.Line("");
        report.Line(o.Emulated
            ? $"No {XenHypervisor.KvmDevice} here: figures (a)–(d) and (i)'s guest column are {LinuxFigures.NoKvm}; (e)'s and (f)'s guest run on {LinuxFigures.EmulatedWhere}; the rest is measured."
            : $"No {XenHypervisor.KvmDevice} here: figures (a)–(d), (e)'s guest column, (f)'s XenSharp column and (i)'s guest column are {LinuxFigures.NoKvm} (--emulated runs (e)'s and (f)'s on QEMU's emulated CPU); the rest is measured.");
    }

    // ---- (e) lmbench rows, (f) Linux boot to the prompt, (g) host-side cost per exit ----
    LinuxFigures.Run(o, report, machine, hasKvm, Progress);

    // ---- (h) the scheduler ----
    if (hasKvm && o.Runs('h'))
    {
        const int YieldN = 20000, WakeN = 100;
        Progress($"(h) scheduler on one physical CPU: {YieldN} yields alone and in pairs, {WakeN} timed wake-ups alone, beside a CPU-bound domain, warped; eventfd hand-offs ...");
        using var pingpong = NativeBaselines.Compile(Repo("bench/native/pingpong.c"));
        double handoffBefore = pingpong.PingPongSeconds(YieldN);
        SchedBench.Result sb = SchedBench.Run(schedGuest, YieldN, WakeN);
        double handoffAfter = pingpong.PingPongSeconds(YieldN);
        double handoff = (handoffBefore + handoffAfter) / 2;
        report.Table(
            Invariant($"(h) BVT scheduler on one physical CPU (`--pcpus 1`; sched guest's own clock; baseline: mean of one run just before and one just after)"),
            ["measurement", "per op", "ratio"],
            [
                ["guest: switch between two domains that only SCHEDOP_yield (each yield of one = two switches)", Us(sb.Switch),
                    "switch/hand-off " + Times(sb.Switch / handoff) + " · switch/yield alone " + Times(sb.Switch / sb.YieldAlone)],
                ["guest: SCHEDOP_yield alone on the CPU (no switch)", Us(sb.YieldAlone), ""],
                [Invariant($"guest: VIRQ_TIMER 1 ms ahead + SCHEDOP_block → upcall entered, median of {WakeN}, alone"), Us(sb.WakeAlone), "wake/hand-off " + Times(sb.WakeAlone / handoff)],
                ["… beside a CPU-bound domain (both unwarped: waits for the neighbour's slice, ≤ the 5 ms allowance)", Us(sb.WakeBeside), "wake/hand-off " + Times(sb.WakeBeside / handoff)],
                ["… beside a CPU-bound domain, the waking domain warped (preempts at once)", Us(sb.WakeBesideWarped), "wake/hand-off " + Times(sb.WakeBesideWarped / handoff)],
                [Invariant($"baseline **eventfd hand-off**: two C threads passing a token (before {Us(handoffBefore)}, after {Us(handoffAfter)})"), Us(handoff), "1 (baseline)"],
            ]);
    }
    else if (o.Runs('h'))
    {
        report.Line("");
        report.Line($"(h) BVT scheduler: {LinuxFigures.NoKvm}");
    }

    // ---- (i) split drivers: disk and network throughput ----
    if (o.Runs('i'))
    {
        SplitDriverFigure.Run(o, report, machine, hasKvm, Progress);
    }

    if (!hasKvm || !"abcd".Any(o.Runs))
    {
        return Finish();
    }

    // ---- (a) null hypercall round trip ----
    using var native = NativeBaselines.Compile(Repo("bench/native/baselines.c"));
    using KvmSystem kvm = KvmSystem.Open(XenHypervisor.KvmDevice);
    using MachineMemory bareMemory = BareVm.CreateMemory();
    using BareVm bare = BareVm.Start(kvm, bareMemory);

    Progress($"(a) {o.N} exit round trips, {o.GetppidN} getppid(), then {o.N} hypercalls ...");
    double exitBefore = bare.TimeRoundTrips(o.N);
    double getppidBefore = native.GetppidSeconds(o.GetppidN);
    HypercallBench.Result hc;
    using (XenHypervisor hv = XenHypervisor.CreateOnKvm(256UL << 20, new HypervisorLog(TextWriter.Null)))
    {
        hc = HypercallBench.Run(hv, benchGuest, o.N);
    }

    double exitAfter = bare.TimeRoundTrips(o.N);
    double getppidAfter = native.GetppidSeconds(o.GetppidN);
    double exit = (exitBefore + exitAfter) / 2;
    double getppid = (getppidBefore + getppidAfter) / 2;
    int nC = Math.Max(1000, o.N / 5);
    double exitC = native.ExitSeconds(nC);
    double nop = (native.NopLoopSeconds(nC) - exitC) / 10;
    double stackOp = (native.StackLoopSeconds(nC) - exitC) / 10;
    double getppidPInvoke = PInvokeGetppid.Seconds(o.GetppidN);
    double tscHz = native.TscHz();

    report.Table(
        Invariant($"(a) null hypercall round trip (n = {o.N}; baselines: mean of one run just before and one just after the hypercalls)"),
        ["measurement", "per op", "ratio"],
        [
            ["xen_version(XENVER_version) through the hypercall page: guest → XenSharp → guest (host clock between the console markers)",
                Us(hc.Seconds), "hypercall/exit " + Times(hc.Seconds / exit) + " · hypercall/getppid " + Times(hc.Seconds / getppid)],
            [Invariant($"baseline (i) **exit**: bare KVM exit round trip, ring-0 `out` loop, XenSharp.Kvm (before {Us(exitBefore)}, after {Us(exitAfter)})"),
                Us(exit), "1 (baseline)"],
            [Invariant($"baseline (ii) **getppid**: host getppid() system call, C, loop of {o.GetppidN} (before {Us(getppidBefore)}, after {Us(getppidAfter)})"),
                Us(getppid), "1 (baseline)"],
            [Invariant($"info: the same hypercalls timed by the guest with rdtsc: {hc.GuestTicks:0} TSC ticks/call at the host's {tscHz / 1e9:0.000} GHz TSC"),
                Us(hc.GuestTicks / tscHz), "guest/host clock " + Times(hc.GuestTicks / tscHz / hc.Seconds)],
            [Invariant($"info: bare exit round trip from C with raw ioctls (exit.c), n = {nC}"), Us(exitC), "XenSharp.Kvm/C " + Times(exit / exitC)],
            ["info: one ring-0 `nop` on this KVM, from C: (round trip of the loop with 10 `nop`s − bare round trip) ÷ 10",
                Us(nop), "hypercall/nop " + Times(hc.Seconds / nop)],
            ["info: one ring-0 `push`/`pop` on this KVM, from C: (round trip of the loop with 5 `push` + 5 `pop` − bare round trip) ÷ 10",
                Us(stackOp), "hypercall/push-pop " + Times(hc.Seconds / stackOp)],
            ["info: getppid() through [LibraryImport] from .NET", Us(getppidPInvoke), "P/Invoke/C " + Times(getppidPInvoke / getppid)],
        ]);

    // ---- (a, continued) KVM events per operation ----
    Progress("(a) counting KVM events per operation with perf ...");
    const int Small = 1000, Large = 3000; // the counts are exact: a short difference suffices
    string configs = Directory.CreateTempSubdirectory("xensharp-bench-cfg-").FullName;
    string why;
    Dictionary<string, double>? hcEvents, exitEvents = null;
    try
    {
        hcEvents = KvmEventCounts.TryMeasure(
            n => ["dotnet", o.CliDll, "run", HypercallBench.WriteConfig(configs, benchGuest, n)], Small, Large, o.Repo, out why);
        if (hcEvents is not null)
        {
            exitEvents = KvmEventCounts.TryMeasure(
                n => [native.Program, "exit", n.ToString(System.Globalization.CultureInfo.InvariantCulture)], Small, Large, o.Repo, out why);
        }
    }
    finally
    {
        Directory.Delete(configs, recursive: true);
    }

    if (hcEvents is not null && exitEvents is not null)
    {
        report.Table(
            Invariant($"(a) KVM events per operation (perf stat on a child process; counts of a {Large}-op run minus a {Small}-op run, ÷ {Large - Small})"),
            ["measurement: KVM event", "per hypercall", "per bare exit round trip", "ratio"],
            KvmEventCounts.Events.Select(e =>
            {
                double h = hcEvents[e.Event], x = exitEvents[e.Event];
                return new[] { $"`{e.Event}`: {e.Meaning}", Invariant($"{h:0.00}"), Invariant($"{x:0.00}"), x == 0 ? "–" : "hypercall/exit " + Times(h / x) };
            }));
        double emulated = hcEvents["kvm:kvm_emulate_insn"] - exitEvents["kvm:kvm_emulate_insn"];
        double model = exit + (emulated * stackOp);
        report.Line("");
        report.Line(Invariant($"Rough model (the stub's instructions are mostly pushes, pops and moves to memory): bare exit + {emulated:0} more emulated instructions × one ring-0 push/pop = {Us(exit)} + {emulated:0} × {Us(stackOp)} = **{Us(model)}** per hypercall; measured {Us(hc.Seconds)} (measured/model {Times(hc.Seconds / model)}). What the model leaves out is not isolated here; the likely candidates are the mode switches: the #PF delivery into ring 0 and the emulated `iretq` back to ring 3."));
    }
    else
    {
        report.Line("");
        report.Line($"KVM events per operation: not measured: {why}");
    }

    // ---- (c) guest process operations: system call, page fault, mmu_update batching ----
    const int SysN = 20000, FaultN = 2000, MmuReps = 3, TrapN = 20000;
    Progress($"(c) bench-pv: {SysN} user syscalls, {FaultN} page faults, {MmuReps}x1000 batched and single mmu_updates, baselines ...");
    using var trapVm = new BareTrapVm(kvm);
    double trapBefore = trapVm.TimeRoundTrips(TrapN);
    double nativeSysBefore = native.SyscallSeconds(SysN * 10);
    double nativeFaultBefore = native.FaultSeconds(FaultN);
    PvBench.Result pv;
    using (XenHypervisor hv = XenHypervisor.CreateOnKvm(256UL << 20, new HypervisorLog(TextWriter.Null)))
    {
        pv = PvBench.Run(hv, pvGuest, SysN, FaultN, MmuReps);
    }

    double trapAfter = trapVm.TimeRoundTrips(TrapN);
    double nativeSysAfter = native.SyscallSeconds(SysN * 10);
    double nativeFaultAfter = native.FaultSeconds(FaultN);
    double trap = (trapBefore + trapAfter) / 2, nativeSys = (nativeSysBefore + nativeSysAfter) / 2, nativeFault = (nativeFaultBefore + nativeFaultAfter) / 2;
    report.Table(
        Invariant($"(c) guest process operations (bench-pv: {SysN} syscalls, {FaultN} faults, {MmuReps}×1000 PTE updates each way; baselines: mean of one run just before and one just after the guest)"),
        ["measurement", "per op", "ratio"],
        [
            ["guest user process: null `syscall` → kernel callback → iret hypercall (VGCF_in_syscall) → user",
                Us(pv.Syscall), "syscall/(2 × trap) " + Times(pv.Syscall / (2 * trap)) + " · syscall/native " + Times(pv.Syscall / nativeSys) + " · syscall/exit " + Times(pv.Syscall / exit)],
            ["guest user process: write to a fresh unmapped page → #PF bounce → kernel maps it (1 mmu_update) → iret",
                Us(pv.Fault), "fault/(2 × trap) " + Times(pv.Fault / (2 * trap)) + " · fault/native " + Times(pv.Fault / nativeFault) + " · fault/hypercall " + Times(pv.Fault / hc.Seconds)],
            ["guest kernel: one PTE update of a pinned L1, in ONE 1000-entry mmu_update call", Us(pv.BatchPerUpdate), "1 (baseline of the next row)"],
            ["guest kernel: one PTE update as a single-entry mmu_update call (1000 calls)", Us(pv.SinglePerUpdate),
                "single/batched " + Times(pv.SinglePerUpdate / pv.BatchPerUpdate) + " · single/hypercall " + Times(pv.SinglePerUpdate / hc.Seconds)],
            [Invariant($"baseline **trap**: bare KVM VM (XenSharp.Kvm), ring-3 `ud2` → ring-0 handler `add qword [rsp], 2; iretq`, {TrapN} round trips (before {Us(trapBefore)}, after {Us(trapAfter)})"),
                Us(trap), "1 (baseline) · 2 × trap = " + Us(2 * trap)],
            [Invariant($"baseline **native syscall**: host raw `syscall` instruction (getppid, inline asm), C, {SysN * 10} (before {Us(nativeSysBefore)}, after {Us(nativeSysAfter)})"),
                Us(nativeSys), "1 (baseline)"],
            [Invariant($"baseline **native fault**: host minor page fault, write to each of {FaultN} fresh mmap'd pages, C (before {Us(nativeFaultBefore)}, after {Us(nativeFaultAfter)})"),
                Us(nativeFault), "1 (baseline)"],
        ]);

    Progress("(c) counting KVM events per guest operation with perf ...");
    string pvConfigs = Directory.CreateTempSubdirectory("xensharp-bench-pvcfg-").FullName;
    var pvEvents = new List<(string What, Dictionary<string, double>? Counts)>();
    string pvWhy = "";
    try
    {
        string[] Cmd(string cmdline) => ["dotnet", o.CliDll, "run", PvBench.WriteConfig(pvConfigs, pvGuest, cmdline)];
        (string What, Func<int, string[]> Command, int Small, int Large, double PerUnit)[] kinds =
        [
            ("per user syscall", n => Cmd(PvBench.CommandLine(n, 0, 0, 0)), 1000, 3000, 1),
            ("per page fault", n => Cmd(PvBench.CommandLine(0, n, 0, 0)), 500, 1500, 1),
            ("per PTE update, 1000-entry batch", n => Cmd(PvBench.CommandLine(0, 0, n, 0)), 1, 3, PvBench.BatchSize),
            ("per PTE update, single-entry calls", n => Cmd(PvBench.CommandLine(0, 0, 0, n)), 1, 3, PvBench.BatchSize),
        ];
        foreach (var k in kinds)
        {
            Dictionary<string, double>? c = KvmEventCounts.TryMeasure(k.Command, k.Small, k.Large, o.Repo, out pvWhy);
            pvEvents.Add((k.What, c?.ToDictionary(e => e.Key, e => e.Value / k.PerUnit)));
            if (c is null)
            {
                break;
            }
        }
    }
    finally
    {
        Directory.Delete(pvConfigs, recursive: true);
    }

    if (pvEvents.All(e => e.Counts is not null))
    {
        report.Table(
            "(c) KVM events per guest operation (perf stat on `xensharp run` of bench-pv; difference of two runs ÷ difference of the operation counts)",
            ["measurement: KVM event", .. pvEvents.Select(e => e.What)],
            KvmEventCounts.Events.Select(e => new[] { $"`{e.Event}`" }.Concat(pvEvents.Select(p => Invariant($"{p.Counts![e.Event]:0.00}"))).ToArray()));
    }
    else
    {
        report.Line("");
        report.Line($"(c) KVM events per guest operation: not measured: {pvWhy}");
    }

    // ---- (d) timers and events ----
    const int TimerN = 200;
    Progress($"(d) {TimerN} guest timers, {20 * TimerN} event sends and null hypercalls, host sleeps ...");
    double monitorBefore = TimerBench.MonitorWaitLateness(TimerN);
    double sleepBefore = native.SleepLatenessSeconds(TimerN);
    TimerBench.Result tb;
    using (XenHypervisor hv = XenHypervisor.CreateOnKvm(256UL << 20, new HypervisorLog(TextWriter.Null)))
    {
        tb = TimerBench.Run(hv, timerGuest, TimerN);
    }

    double monitorAfter = TimerBench.MonitorWaitLateness(TimerN);
    double sleepAfter = native.SleepLatenessSeconds(TimerN);
    double monitor = (monitorBefore + monitorAfter) / 2, hostSleep = (sleepBefore + sleepAfter) / 2;
    report.Table(
        Invariant($"(d) timers and events (bench-timer: {TimerN} timers, {20 * TimerN} sends; baselines: mean of one run just before and one just after the guest)"),
        ["measurement", "per op", "ratio"],
        [
            [Invariant($"guest: set_timer_op(now + 1 ms) + SCHEDOP_block → VIRQ_TIMER upcall: lateness after the deadline, guest's clock, median (p90 {Us(tb.LateP90)}, max {Us(tb.LateMax)})"),
                Us(tb.LateMedian), "guest/nanosleep " + Times(tb.LateMedian / hostSleep) + " · guest/Monitor.Wait " + Times(tb.LateMedian / monitor) + " · guest/hypercall " + Times(tb.LateMedian / tb.NullHypercall)],
            [Invariant($"baseline **Monitor.Wait**: a .NET thread waiting 1 ms (XenSharp's timer thread where it has no timerfd), lateness median (before {Us(monitorBefore)}, after {Us(monitorAfter)})"),
                Us(monitor), "1 (baseline)"],
            [Invariant($"baseline **nanosleep**: a C thread, clock_nanosleep 1 ms ahead (the host's wake-up latency; XenSharp's timer thread sleeps in a timerfd, the same kernel timer), lateness median (before {Us(sleepBefore)}, after {Us(sleepAfter)})"),
                Us(hostSleep), "1 (baseline)"],
            ["guest: EVTCHNOP_send to its own IPI port, delivered as an upcall on the way back (event callback + iret hypercall)",
                Us(tb.EventSend), "send/hypercall " + Times(tb.EventSend / tb.NullHypercall)],
            ["baseline: null hypercall (xen_version) in the same guest, same run", Us(tb.NullHypercall), "1 (baseline)"],
        ]);

    // ---- (b) boot time ----
    Progress($"(b) boot time, {o.Repeats} runs each ...");
    BootBench.ProcessResults p = BootBench.MeasureProcesses(o.CliDll, helloCfg, o.Repo, o.Repeats);
    BootBench.InProcessResults ip = BootBench.MeasureInProcess(helloCfg, o.Repeats);

    string[] Row(string what, Samples s, Samples? baseline) =>
    [
        what, Ms(s.Median), Ms(s.Min),
        baseline is null ? "1 (baseline)" : Times(s.Median / baseline.Median) + " / " + Times(s.Min / baseline.Min),
    ];

    report.Table(
        Invariant($"(b) boot time of examples/hello.cfg ({o.Repeats} runs each; ratio = median/median and min/min against the row's baseline)"),
        ["measurement", "median", "min", "ratio (median / min)"],
        [
            Row("`dotnet xensharp.dll run examples/hello.cfg`: process start → first console byte on stdout", p.RunFirstByte, p.VersionFirstByte),
            Row("`dotnet xensharp.dll run examples/hello.cfg`: process start → process exit", p.RunExit, p.VersionExit),
            Row("baseline: `dotnet xensharp.dll version`: process start → first byte on stdout", p.VersionFirstByte, null),
            Row("baseline: `dotnet xensharp.dll version`: process start → process exit", p.VersionExit, null),
            Row("in-process: PvDomainBuilder.Build start → first console byte", ip.FirstByte, ip.BareVmStart),
            Row("in-process: PvDomainBuilder.Build start → domain Ended", ip.Ended, ip.BareVmStart),
            Row("baseline: bare KVM VM (XenSharp.Kvm) create + memory slot + vCPU + CPUID + registers → first exit", ip.BareVmStart, null),
        ]);

    return Finish();

    int Finish()
    {
        string text = report.ToString();
        Console.WriteLine(text);
        if (o.Output is { } path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, text);
            Progress($"wrote {path}");
        }

        return 0;
    }
}
catch (BenchException e)
{
    Console.Error.WriteLine($"bench: {e.Message}");
    return 1;
}
catch (Exception e) when (e is KvmUnavailableException or KvmException)
{
    Console.Error.WriteLine($"bench: KVM: {e.Message}");
    return 1;
}
