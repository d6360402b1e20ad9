using System.Globalization;
using System.Text.RegularExpressions;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Logging;
using XenSharp.Hypervisor.Scheduling;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Run;

namespace XenSharp.Bench;

/// <summary>
/// Figure (h): the BVT scheduler, on one physical-CPU slot (`--pcpus 1`), measured by guests/build/sched.elf with its
/// own clock. Switch cost: two domains that only SCHEDOP_yield alternate on the slot, so each yield of one is two
/// switches (to the other and back); one such domain alone measures the yield hypercall without a switch. Wake-up
/// latency: a domain blocks on a VIRQ_TIMER 1 ms ahead and notes when its upcall is entered (the event is sent by the
/// timer at the deadline), alone, beside a CPU-bound domain, and beside it warped. The host baseline is two C threads
/// passing a token over eventfds (bench/native/pingpong.c): one hand-off.
/// </summary>
public static partial class SchedBench
{
    private const int MemoryMiB = 32;

    /// <param name="YieldAlone">Seconds per yield with nobody else on the slot.</param>
    /// <param name="Switch">Seconds per switch between two yielding domains.</param>
    /// <param name="WakeAlone">Median seconds from the timer's deadline to the upcall, alone on the slot.</param>
    /// <param name="WakeBeside">The same beside a CPU-bound domain (both unwarped, BVT's 5 ms allowance).</param>
    /// <param name="WakeBesideWarped">The same with the waking domain warped.</param>
    public sealed record Result(double YieldAlone, double Switch, double WakeAlone, double WakeBeside, double WakeBesideWarped);

    public static Result Run(string schedGuest, int yields, int wakes)
    {
        string y = string.Create(CultureInfo.InvariantCulture, $"sched=yield n={yields}");
        string w = string.Create(CultureInfo.InvariantCulture, $"sched=wake n={wakes} ms=1");
        DomainConfig Guest(string name, string cmdline) => new() { Name = name, Kernel = schedGuest, MemoryMiB = MemoryMiB, CommandLine = cmdline };

        Match alone = One(YieldLine(), Run([Guest("yield", y)])["yield"]);
        double yieldAlone = Ns(alone, "ns") / Ns(alone, "n");

        Dictionary<string, string> pair = Run([Guest("yield-a", y), Guest("yield-b", y)]);
        double perYield = new[] { "yield-a", "yield-b" }
            .Select(n => One(YieldLine(), pair[n]))
            .Where(m => Ns(m, "shared_n") > 0)
            .Select(m => Ns(m, "shared_ns") / Ns(m, "shared_n"))
            .DefaultIfEmpty(double.NaN).Min();
        if (double.IsNaN(perYield))
        {
            throw new BenchException("the two yielding domains never shared the slot");
        }

        double WakeMedian(Dictionary<string, string> t) => Ns(One(MedianLine(), t["waker"]), "median");
        double wakeAlone = WakeMedian(Run([Guest("waker", w)]));
        int spinSecs = Math.Max(4, wakes / 100 + 3);
        DomainConfig spinner = Guest("spinner", string.Create(CultureInfo.InvariantCulture, $"sched=spin secs={spinSecs}"));
        double wakeBeside = WakeMedian(Run([spinner, Guest("waker", w)]));
        DomainConfig warped = Guest("waker", w) with
        {
            Scheduling = new BvtParameters { WarpBack = true, WarpValue = 1_000_000 * BvtParameters.Unit, WarpLimitNs = 0 },
        };
        double wakeWarped = WakeMedian(Run([spinner, warped]));
        return new Result(yieldAlone * 1e-9, perYield / 2 * 1e-9, wakeAlone * 1e-9, wakeBeside * 1e-9, wakeWarped * 1e-9);
    }

    // One `xensharp run --pcpus 1` of the configs, in process; each domain's transcript by name.
    private static Dictionary<string, string> Run(IReadOnlyList<DomainConfig> configs)
    {
        using XenHypervisor hv = XenHypervisor.CreateOnKvm(256UL << 20, new HypervisorLog(TextWriter.Null), pcpus: 1);
        var session = new RunSession(hv, configs, TextWriter.Null, new RunOptions { Timeout = TimeSpan.FromSeconds(600 * BenchGuest.Scale) });
        IReadOnlyList<DomainOutcome> outcomes = session.RunAsync().GetAwaiter().GetResult();
        foreach (DomainOutcome o in outcomes.Where(o => o.ExitCode != DomainOutcome.Poweroff))
        {
            throw new BenchException($"sched guest {o.Name}: {o.Ending}\n{o.Transcript}");
        }

        return outcomes.ToDictionary(o => o.Name, o => o.Transcript);
    }

    private static Match One(Regex line, string transcript) =>
        line.Match(transcript) is { Success: true } m ? m : throw new BenchException($"the sched guest printed no {line} line:\n{transcript}");

    private static double Ns(Match m, string group) => double.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^yield n=(?<n>\d+) ns=(?<ns>\d+) shared_n=(?<shared_n>\d+) shared_ns=(?<shared_ns>\d+)$", RegexOptions.Multiline)]
    private static partial Regex YieldLine();

    [GeneratedRegex(@"^wake median=(?<median>\d+) max=\d+", RegexOptions.Multiline)]
    private static partial Regex MedianLine();
}
