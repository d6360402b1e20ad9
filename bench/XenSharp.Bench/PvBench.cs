using System.Globalization;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Image;

namespace XenSharp.Bench;

/// <summary>
/// Figure (c): boots guests/build/bench-pv.elf in-process and times, from the console markers, its four phases:
/// null system calls of its user program, page faults on fresh user pages, and 1000-entry mmu_update calls vs
/// single-entry ones (see the guest's main.c).
/// </summary>
public static class PvBench
{
    private const int MemoryMiB = 32;
    public const int BatchSize = 1000;

    /// <summary>Seconds per operation of each phase; Batch and Single are per PTE update.</summary>
    public sealed record Result(double Syscall, double Fault, double BatchPerUpdate, double SinglePerUpdate);

    public static string CommandLine(int sys, int fault, int batch, int single) =>
        string.Create(CultureInfo.InvariantCulture, $"sys={sys} fault={fault} batch={batch} single={single}");

    public static Result Run(XenHypervisor hv, string kernelPath, int sys, int fault, int reps)
    {
        var request = new BuildRequest("bench-pv", KernelImage.Load(kernelPath), MemoryMiB, 1, CommandLine(sys, fault, reps, reps));
        var console = new TimedConsole();
        Domain d = BenchGuest.RunToEnd(hv, request, console, limitSeconds: 120);
        HypercallBench.CheckVerdict(d, console);
        double Span(string name, double ops) => Clock.Seconds(console.TimeOf(name + "-BEGIN"), console.TimeOf(name + "-END")) / ops;
        return new Result(Span("SYSCALL", sys), Span("FAULT", fault), Span("MMU-BATCH", reps * (double)BatchSize), Span("MMU-SINGLE", reps * (double)BatchSize));
    }

    /// <summary>An xl config for `xensharp run` that boots bench-pv with the given command line.</summary>
    public static string WriteConfig(string directory, string kernelPath, string commandLine)
    {
        string path = Path.Combine(directory, $"bench-pv-{commandLine.Replace(' ', '-').Replace('=', '_')}.cfg");
        File.WriteAllText(path, string.Create(CultureInfo.InvariantCulture,
            $"name = \"bench-pv\"\nkernel = \"{kernelPath}\"\nmemory = {MemoryMiB}\nvcpus = 1\nextra = \"{commandLine}\"\n"));
        return path;
    }
}
