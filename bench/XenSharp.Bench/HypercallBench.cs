using System.Globalization;
using System.Text.RegularExpressions;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Image;

namespace XenSharp.Bench;

/// <summary>
/// Figure (a): boots guests/build/bench-hypercall.elf with n=<c>N</c> and times, on the host, the span between the
/// moments its BENCH-BEGIN and BENCH-END lines reach the console; between them the guest does nothing but N
/// xen_version(XENVER_version) hypercalls through the hypercall page.
/// </summary>
public static partial class HypercallBench
{
    private const int MemoryMiB = 32;

    /// <param name="Seconds">Host time per hypercall round trip.</param>
    /// <param name="GuestTicks">The guest's own rdtsc figure, TSC ticks per call.</param>
    public sealed record Result(double Seconds, double GuestTicks, string Transcript);

    public static Result Run(XenHypervisor hv, string kernelPath, int n)
    {
        var request = new BuildRequest("bench-hypercall", KernelImage.Load(kernelPath), MemoryMiB, 1,
            string.Create(CultureInfo.InvariantCulture, $"n={n}"));
        var console = new TimedConsole();
        // Generous: the slowest round trip seen is ~150 µs.
        Domain d = BenchGuest.RunToEnd(hv, request, console, limitSeconds: 60 + (n / 1000.0));
        CheckVerdict(d, console);
        long begin = console.TimeOf("BENCH-BEGIN");
        long end = console.TimeOf("BENCH-END");
        Match m = console.Lines.Select(l => TicksLine().Match(l.Text)).FirstOrDefault(x => x.Success)
            ?? throw new BenchException($"bench-hypercall printed no ticks/call line:\n{console.Transcript}");
        return new Result(
            Clock.Seconds(begin, end) / n,
            double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
            console.Transcript);
    }

    /// <summary>An xl config for `xensharp run` that boots the bench guest with n=<paramref name="n"/>.</summary>
    public static string WriteConfig(string directory, string kernelPath, int n)
    {
        string path = Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"bench-hypercall-{n}.cfg"));
        File.WriteAllText(path, string.Create(CultureInfo.InvariantCulture,
            $"name = \"bench-hypercall\"\nkernel = \"{kernelPath}\"\nmemory = {MemoryMiB}\nvcpus = 1\nextra = \"n={n}\"\n"));
        return path;
    }

    /// <summary>The domain must have powered off after "Test result: SUCCESS" as its last line.</summary>
    internal static void CheckVerdict(Domain d, TimedConsole console)
    {
        IReadOnlyList<TimedLine> lines = console.Lines;
        bool success = lines.Count > 0 && lines[^1].Text == "Test result: SUCCESS";
        if (!success || d.State != DomainState.Shutdown || d.ShutdownReason != ShutdownReason.Poweroff)
        {
            throw new BenchException(
                $"{d.Name} did not succeed (state {d.State}, reason {d.ShutdownReason?.ToString() ?? "none"}{(d.CrashReason is { } c ? $": {c}" : "")}); console:\n{console.Transcript}");
        }
    }

    [GeneratedRegex(@"^bench-hypercall: \d+ calls, \d+ TSC ticks, (\d+\.\d+) ticks/call$")]
    private static partial Regex TicksLine();
}
