using System.Globalization;
using System.Text.RegularExpressions;
using XenSharp.Hypervisor.Scheduling;
using XenSharp.IntegrationTests.Support;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Run;
using Xunit;
using Xunit.Abstractions;

namespace XenSharp.IntegrationTests;

/// <summary>
/// The BVT scheduler in the run loop, as the guests themselves see it (guests/tests/sched): two CPU-bound domains
/// weighted 1:3 on one physical-CPU slot get running time 1:3, read from their own runstate areas; a domain that
/// blocks and wakes on its timer beside a CPU-bound one is woken at once when it warps, and waits for the neighbour's
/// slice when it does not. Nothing here is timed against the wall clock: each verdict compares two things measured in
/// the same run (two domains' shares, two runs' wake-up latencies).
/// </summary>
public sealed partial class SchedulerTests(ITestOutputHelper output)
{
    [KvmFact]
    public async Task TwoCpuBoundDomainsWeighted1To3OnOneSlot_Run1To3()
    {
        using var host = new KvmHost(pcpus: 1);
        DomainConfig light = Weighted("light", 256);
        DomainConfig heavy = Weighted("heavy", 768);

        IReadOnlyList<DomainOutcome> outcomes = await host.RunAsync([light, heavy], Limits.Generous);

        Assert.All(outcomes, o => Assert.True(o.ExitCode == DomainOutcome.Poweroff, $"{o.Name}: {o.Ending}\n{o.Transcript}"));
        List<Sample> l = Samples(Transcript(outcomes, "light"));
        List<Sample> h = Samples(Transcript(outcomes, "heavy"));

        // The window in which both ran, on the hypervisor's clock (each sample's last runstate change; system time is the
        // same for every domain). The share is running / (running + runnable) over it: both from the runstate area,
        // which the hypervisor writes, never the guest's own clock (on kvm_amd under QEMU a descheduled vCPU's TSC
        // stops and catches up later, which skews a guest-clock share by some percent).
        ulong from = Math.Max(l[0].Entry, h[0].Entry), to = Math.Min(l[^1].Entry, h[^1].Entry);
        Assert.True(to > from, $"the two domains never ran at the same time (light {l[0].Entry}..{l[^1].Entry}, heavy {h[0].Entry}..{h[^1].Entry})");
        double lightShare = Share(l, from, to), heavyShare = Share(h, from, to);
        output.WriteLine($"over {(to - from) / 1e6:F0} ms of system time: light ran {lightShare:P1}, heavy {heavyShare:P1}: {heavyShare / lightShare:F3} : 1");

        // 1:3 within 20 %: equal shares (1.0) or ignored weights fail by far. Not closer on kvm_amd under QEMU: the
        // runstate's system time comes from the vCPUs' TSCs, which drift from the host clock BVT charges by 7-13 % there
        // (below), so lane runs gave 2.915, 2.855, 2.59 and 2.54 (2026-12-06/07); the scheduler alone, on a fake clock,
        // gives 2.996 (tests/XenSharp.Tests/Scheduling).
        Assert.InRange(heavyShare / lightShare, 2.4, 3.6);
        // One slot: together about all the time (two slots would give each nearly all of it). Not closer: the runstate's
        // times are system time, read from the vCPU's TSC, and on kvm_amd under QEMU that drifts from the host clock the
        // scheduler runs on by some percent (seen: 107 % and 113 %).
        Assert.True(lightShare + heavyShare < 1.25, $"one slot, yet together they ran {lightShare + heavyShare:P1} of the time");
        Assert.True(l[^1].Runnable > l[0].Runnable, "the light domain waited for the slot (runstate runnable)");
    }

    [KvmFact]
    public async Task AWarpedDomainWakesAtOnceBesideACpuBoundOne_AnUnwarpedOneWaitsForTheSlice()
    {
        ulong unwarped = await WakeMedian(warp: false);
        ulong warped = await WakeMedian(warp: true);
        output.WriteLine($"median wake-up latency beside a CPU-bound domain, 100 ms allowance: unwarped {unwarped / 1e6:F2} ms, warped {warped / 1e6:F2} ms");
        Assert.True(warped * 3 < unwarped, $"warped {warped} ns is not well below unwarped {unwarped} ns");
    }

    private async Task<ulong> WakeMedian(bool warp)
    {
        using var host = new KvmHost(pcpus: 1);
        Assert.Equal(0, host.Hypervisor.Control.SetBvtContextSwitchAllowance(100_000_000)); // a neighbour's turn lasts long
        DomainConfig spinner = Guests.Config("spinner", "sched", "sched=spin secs=12");
        DomainConfig waker = Guests.Config("waker", "sched", "sched=wake n=20 ms=20") with
        {
            Scheduling = new BvtParameters { WarpBack = warp, WarpValue = 1_000_000 * BvtParameters.Unit, WarpLimitNs = 0 },
        };

        IReadOnlyList<DomainOutcome> outcomes = await host.RunAsync([spinner, waker], Limits.Generous);

        Assert.All(outcomes, o => Assert.True(o.ExitCode == DomainOutcome.Poweroff, $"{o.Name}: {o.Ending}\n{o.Transcript}"));
        List<Sample> s = Samples(Transcript(outcomes, "spinner"));
        string w = Transcript(outcomes, "waker");
        Match median = MedianLine().Match(w);
        Assert.True(median.Success, w);
        ulong end = Parse(MedianLine().Match(w).Groups["at"].Value);
        Assert.True(s[^1].Sys > end, "the spinner ran until after the waker was done");
        return Parse(median.Groups["median"].Value);
    }

    private static DomainConfig Weighted(string name, int weight) => Guests.Config(name, "sched", "sched=spin secs=6") with
    {
        Scheduling = new BvtParameters { McuAdvance = BvtParameters.McuAdvanceOfWeight(weight) },
    };

    private static string Transcript(IReadOnlyList<DomainOutcome> outcomes, string name) => Assert.Single(outcomes, o => o.Name == name).Transcript;

    /// <summary>
    /// The domain's share of the CPU, running / (running + runnable), between the first sample whose last runstate change
    /// is at or after <paramref name="from"/> and the last one at or before <paramref name="to"/> (a CPU-bound guest never blocks).
    /// </summary>
    private static double Share(List<Sample> samples, ulong from, ulong to)
    {
        Sample first = samples.First(x => x.Entry >= from), last = samples.Last(x => x.Entry <= to);
        Assert.True(last.Entry > first.Entry, "too few runstate changes in the common window");
        double run = last.Run - first.Run, waited = last.Runnable - first.Runnable;
        return run / (run + waited);
    }

    private static List<Sample> Samples(string transcript)
    {
        List<Sample> samples = SampleLine().Matches(transcript)
            .Select(m => new Sample(Parse(m.Groups["sys"].Value), Parse(m.Groups["run"].Value), Parse(m.Groups["runnable"].Value), Parse(m.Groups["entry"].Value)))
            .ToList();
        Assert.True(samples.Count >= 2, transcript);
        return samples;
    }

    private static ulong Parse(string s) => ulong.Parse(s, CultureInfo.InvariantCulture);

    private readonly record struct Sample(ulong Sys, ulong Run, ulong Runnable, ulong Entry);

    [GeneratedRegex(@"^sample sys=(?<sys>\d+) run=(?<run>\d+) runnable=(?<runnable>\d+) entry=(?<entry>\d+)$", RegexOptions.Multiline)]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"^wake median=(?<median>\d+) max=\d+ at=(?<at>\d+)$", RegexOptions.Multiline)]
    private static partial Regex MedianLine();
}
