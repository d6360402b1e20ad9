using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Image;

namespace XenSharp.Bench;

/// <summary>
/// Figure (d): boots guests/build/bench-timer.elf in-process. The guest measures, with its own clock, how late its
/// set_timer_op(+1 ms) + SCHEDOP_block wake-ups are; the host times event sends (each delivered as an upcall) and
/// null hypercalls from the console markers. The baselines are the host's own 1 ms sleeps, in .NET (the primitive
/// XenSharp's timer thread waits with) and in C.
/// </summary>
public static partial class TimerBench
{
    private const int MemoryMiB = 32;

    /// <summary>Guest-measured lateness (s) and host-timed seconds per event send and per null hypercall.</summary>
    public sealed record Result(double LateMedian, double LateP90, double LateMax, double EventSend, double NullHypercall);

    public static Result Run(XenHypervisor hv, string kernelPath, int n)
    {
        var request = new BuildRequest("bench-timer", KernelImage.Load(kernelPath), MemoryMiB, 1,
            string.Create(CultureInfo.InvariantCulture, $"n={n}"));
        var console = new TimedConsole();
        Domain d = BenchGuest.RunToEnd(hv, request, console, limitSeconds: 120);
        HypercallBench.CheckVerdict(d, console);
        Match m = console.Lines.Select(l => LateLine().Match(l.Text)).FirstOrDefault(x => x.Success)
            ?? throw new BenchException($"bench-timer printed no TIMER-LATE line:\n{console.Transcript}");
        double Ns(int group) => double.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture) * 1e-9;
        double ops = 20.0 * n;
        double Span(string name) => Clock.Seconds(console.TimeOf(name + "-BEGIN"), console.TimeOf(name + "-END")) / ops;
        return new Result(Ns(1), Ns(2), Ns(3), Span("EVENT"), Span("NULL"));
    }

    /// <summary>Median lateness of n Monitor.Wait(1 ms) calls on a host thread, in seconds.</summary>
    public static double MonitorWaitLateness(int n)
    {
        var gate = new object();
        var late = new double[n];
        for (int i = 0; i < n; i++)
        {
            long start = Stopwatch.GetTimestamp();
            lock (gate)
            {
                Monitor.Wait(gate, 1);
            }

            late[i] = Math.Max(0, Stopwatch.GetElapsedTime(start).TotalSeconds - 1e-3);
        }

        Array.Sort(late);
        return late[n / 2];
    }

    [GeneratedRegex(@"^TIMER-LATE median=(\d+) p90=(\d+) max=(\d+)")]
    private static partial Regex LateLine();
}
