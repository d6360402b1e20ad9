using System.Globalization;

namespace XenSharp.Bench;

/// <summary>
/// KVM tracepoint counts per operation, from <c>perf stat</c> on a child process: the command is run for two
/// operation counts and the difference of the counts is divided by the difference of the operations, so start-up
/// and shutdown cancel out. Counting follows the child's threads only (not system-wide), so other VMs on the machine
/// do not disturb it. Needs perf and a mounted tracefs; without them <see cref="TryMeasure"/> says why.
/// </summary>
public static class KvmEventCounts
{
    /// <summary>The events counted, with what they mean on kvm_pvm and on hardware KVM.</summary>
    public static readonly (string Event, string Meaning)[] Events =
    [
        ("kvm:kvm_exit", "hardware VM exits (VT-x/AMD-V; always 0 on kvm_pvm)"),
        ("kvm:kvm_userspace_exit", "KVM_RUN returns to the host process"),
        ("kvm:kvm_inj_exception", "exceptions KVM injected into the guest"),
        ("kvm:kvm_emulate_insn", "guest instructions run by KVM's instruction emulator"),
        ("kvmmmu:kvm_mmu_pagetable_walk", "guest page-table walks done by KVM"),
    ];

    /// <summary>Per-operation counts, or null with <paramref name="why"/> when perf cannot count KVM events here.</summary>
    /// <param name="command">Builds the command line for a given number of operations.</param>
    public static Dictionary<string, double>? TryMeasure(Func<int, string[]> command, int small, int large, string workingDirectory, out string why)
    {
        Dictionary<string, long>? a = Count(command(small), workingDirectory, out why);
        Dictionary<string, long>? b = a is null ? null : Count(command(large), workingDirectory, out why);
        if (a is null || b is null)
        {
            return null;
        }

        return Events.ToDictionary(e => e.Event, e => (double)(b[e.Event] - a[e.Event]) / (large - small));
    }

    private static Dictionary<string, long>? Count(string[] command, string workingDirectory, out string why)
    {
        string output = Path.GetTempFileName();
        try
        {
            string[] perf = ["stat", "-x", ",", "-o", output, "-e", string.Join(',', Events.Select(e => e.Event)), "--", .. command];
            ProcessResult r;
            try
            {
                r = ProcessResult.Run("perf", perf, workingDirectory);
            }
            catch (System.ComponentModel.Win32Exception)
            {
                why = "perf is not installed";
                return null;
            }

            var counts = new Dictionary<string, long>();
            foreach (string line in File.ReadLines(output))
            {
                string[] f = line.Split(',');
                if (f.Length >= 3 && long.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out long n))
                {
                    counts[f[2]] = n;
                }
            }

            if (r.ExitCode != 0 || Events.Any(e => !counts.ContainsKey(e.Event)))
            {
                string detail = (r.Stderr + File.ReadAllText(output)).Trim();
                why = $"perf stat could not count KVM tracepoints (exit {r.ExitCode}; is tracefs mounted? " +
                    "`mount -t tracefs nodev /sys/kernel/tracing`): " + (detail.Length > 300 ? detail[..300] + " ..." : detail);
                return null;
            }

            why = "";
            return counts;
        }
        finally
        {
            File.Delete(output);
        }
    }
}
