using System.Runtime.InteropServices;
using XenSharp.Kvm;

namespace XenSharp.Bench;

/// <summary>What the figures were measured on.</summary>
public sealed record MachineInfo(string Date, KvmKind Kvm, string Cpu, int Cpus, string Kernel, string Runtime, string LoadAverage, string Commit)
{
    public static MachineInfo Collect(string repo) => new(
        DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", System.Globalization.CultureInfo.InvariantCulture),
        KvmSystem.DetectKind(),
        CpuModel(),
        Environment.ProcessorCount,
        ReadOr("/proc/sys/kernel/osrelease", "unknown"),
        RuntimeInformation.FrameworkDescription,
        string.Join(' ', ReadOr("/proc/loadavg", "?").Split(' ').Take(3)),
        GitCommit(repo));

    private static string CpuModel() =>
        File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
            : "unknown";

    private static string ReadOr(string path, string fallback)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return fallback;
        }
    }

    private static string GitCommit(string repo)
    {
        try
        {
            ProcessResult head = ProcessResult.Run("git", ["-C", repo, "rev-parse", "--short", "HEAD"]);
            if (head.ExitCode != 0)
            {
                return "unknown";
            }

            ProcessResult status = ProcessResult.Run("git", ["-C", repo, "status", "--porcelain"]);
            return head.Stdout.Trim() + (status.Stdout.Trim().Length > 0 ? " + uncommitted changes" : "");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown (no git)";
        }
    }
}
