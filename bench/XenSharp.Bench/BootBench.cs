using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Logging;
using XenSharp.Kvm;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Run;

namespace XenSharp.Bench;

/// <summary>
/// Figure (b): boot time of examples/hello.cfg, as a process (`xensharp run`, baseline `xensharp version`) and
/// in-process (PvDomainBuilder.Build to first console byte and to Ended, baseline: starting a bare KVM VM).
/// </summary>
public static class BootBench
{
    private const ulong PoolBytes = 256UL << 20;

    public sealed record ProcessResults(Samples RunFirstByte, Samples RunExit, Samples VersionFirstByte, Samples VersionExit);

    public sealed record InProcessResults(Samples FirstByte, Samples Ended, Samples BareVmStart);

    /// <summary>Alternates `version` and `run` so that drift in the machine's load hits both alike.</summary>
    public static ProcessResults MeasureProcesses(string cliDll, string config, string repo, int repeats)
    {
        var results = new ProcessResults(new Samples(), new Samples(), new Samples(), new Samples());
        for (int i = 0; i < repeats; i++)
        {
            ProcessTiming version = ProcessTiming.Measure("dotnet", [cliDll, "version"], repo);
            Expect(version, "version", "xensharp ");
            results.VersionFirstByte.Add(version.FirstByteSeconds);
            results.VersionExit.Add(version.ExitSeconds);

            ProcessTiming run = ProcessTiming.Measure("dotnet", [cliDll, "run", config], repo);
            Expect(run, "run " + config, "Test result: SUCCESS");
            results.RunFirstByte.Add(run.FirstByteSeconds);
            results.RunExit.Add(run.ExitSeconds);
        }

        return results;
    }

    /// <summary>Each repetition gets a fresh hypervisor (created outside the timing, as `xensharp run` does before it
    /// builds); the bare VM starts share one KvmSystem and one memory.</summary>
    public static InProcessResults MeasureInProcess(string config, int repeats)
    {
        DomainConfig cfg = XlConfigParser.Load(config);
        BuildRequest request = RunSession.Prepare([cfg])[0];
        var results = new InProcessResults(new Samples(), new Samples(), new Samples());
        using KvmSystem kvm = KvmSystem.Open(XenHypervisor.KvmDevice);
        using MachineMemory memory = BareVm.CreateMemory();
        for (int i = 0; i < repeats; i++)
        {
            long t0 = Clock.Now;
            using (BareVm.Start(kvm, memory))
            {
                results.BareVmStart.Add(Clock.Seconds(t0, Clock.Now));
            }

            using XenHypervisor hv = XenHypervisor.CreateOnKvm(PoolBytes, new HypervisorLog(TextWriter.Null));
            var console = new TimedConsole();
            long start = Clock.Now;
            Domain d = hv.Control.Get(PvDomainBuilder.Build(hv, request, console));
            try
            {
                hv.Start(d);
                if (!d.Ended.Wait(TimeSpan.FromSeconds(30 * BenchGuest.Scale)))
                {
                    throw new BenchException($"{cfg.Name} did not end within 30 s; console so far:\n{console.Transcript}");
                }

                long ended = Clock.Now;
                results.FirstByte.Add(Clock.Seconds(start, console.FirstByte));
                results.Ended.Add(Clock.Seconds(start, ended));
            }
            finally
            {
                hv.Destroy(d);
            }

            HypercallBench.CheckVerdict(d, console);
        }

        return results;
    }

    private static void Expect(ProcessTiming t, string what, string inStdout)
    {
        if (t.ExitCode != 0 || !t.Stdout.Contains(inStdout, StringComparison.Ordinal))
        {
            throw new BenchException($"xensharp {what}: exit {t.ExitCode}, stdout lacks \"{inStdout}\":\n{t.Stdout}{t.Stderr}");
        }
    }
}
