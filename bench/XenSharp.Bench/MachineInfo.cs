using System.Runtime.InteropServices;
using XenSharp.Kvm;

namespace XenSharp.Bench;

/// <summary>What the figures were measured on.</summary>
public sealed record MachineInfo(string Date, KvmKind Kvm, string Cpu, int Cpus, string Kernel, string Runtime, string LoadAverage, string Commit)
{
    /// <summary>
    /// Which KVM ran the guests, for the Linux figures' headings: the module, and whether this host is itself a virtual
    /// machine (the CPU's hypervisor flag; e.g. kvm_amd in the hardware lane, inside QEMU's emulated CPU), with its DMI vendor.
    /// </summary>
    public string KvmWhere
    {
        get
        {
            string kvm = Kvm switch
            {
                KvmKind.Pvm => "kvm_pvm",
                KvmKind.Intel => "kvm_intel",
                KvmKind.Amd => "kvm_amd",
                _ => "no KVM",
            };
            bool nested = File.Exists("/proc/cpuinfo")
                && File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("flags", StringComparison.Ordinal) && l.Split(' ').Contains("hypervisor"));
            string vendor = ReadOr("/sys/class/dmi/id/sys_vendor", "");
            return nested ? $"{kvm} in a virtual machine{(vendor.Length > 0 ? $" ({vendor})" : "")}" : $"{kvm} on bare metal";
        }
    }

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
