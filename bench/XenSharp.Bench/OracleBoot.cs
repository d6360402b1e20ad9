using System.Diagnostics;

namespace XenSharp.Bench;

/// <summary>
/// Figure (f)'s reference: the xen-oracle (real Xen 4.17 from Debian's packages on QEMU's software CPU, no KVM
/// needed) boots the same kernel and initramfs as dom0 (<c>dom0_mem=512M dom0_max_vcpus=1</c>, the initramfs as its
/// second multiboot module through <c>ORACLE_CMDLINE</c>, as docs/guests.md does). The oracle prints its whole console
/// when QEMU ends, so its points are read from the transcript on the guest's own clock: the kernel's printk time of
/// "Run /init" and /init's uptime; the prompt only as reached or not. Its wall time is the whole run's, QEMU and Xen
/// included, up to the oracle's end.
/// </summary>
public static class OracleBoot
{
    public sealed record Result(double? KernelRunInit, double? InitDone, bool Prompt, double WallSeconds);

    public static Result Run(string oracle, string vmlinuz, string initramfs, int timeoutSeconds)
    {
        var psi = new ProcessStartInfo(oracle, [vmlinuz, "dom0_mem=512M", "dom0_max_vcpus=1"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["ORACLE_CMDLINE"] = $"console=hvc0,{initramfs}";
        psi.Environment["ORACLE_TIMEOUT"] = timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        long t0 = Clock.Now;
        using Process p = Process.Start(psi) ?? throw new BenchException($"could not start {oracle}");
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string console = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        double wall = Clock.Seconds(t0, Clock.Now);
        double? runInit = LinuxBootPoints.KernelRunInit(console);
        if (runInit is null)
        {
            throw new BenchException($"{oracle} did not reach \"{LinuxBootPoints.RunInit}\" (exit {p.ExitCode}): {stderr.GetAwaiter().GetResult()}{string.Join('\n', console.Split('\n').TakeLast(10))}");
        }

        return new Result(runInit, LinuxBootPoints.InitDone(console), LinuxBootPoints.PromptEnd(console) >= 0, wall);
    }
}
