using System.Text;
using Xunit.Abstractions;

namespace XenSharp.IntegrationTests.Support;

/// <summary>
/// Debian's Linux (out/linux, prepared by LinuxGuestTests.PrepareAsync) as 1-vCPU domains of one `xensharp run`, each
/// running a check script of the test's with no one typing: the script is a read-only disk `xvdb` of the domain (the
/// kernel command line, which linux_guest_run rides on, holds at most 1024 bytes in a PV domain), which the guest copies
/// to /tmp and runs with sh before it powers off. The run's stdout and stderr go to the test's output whether it ends or not.
/// </summary>
public static class LinuxDeviceRun
{
    /// <summary>Writes NAME.cfg: the domain with <paramref name="deviceLines"/> (xvdb is taken) and <paramref name="script"/> as its check.</summary>
    public static string Config(TempDir dir, string name, int memoryMiB, string deviceLines, string script, string disks = "")
    {
        string linux = Path.Combine(RepoPaths.Root, "out", "linux");
        byte[] text = Encoding.ASCII.GetBytes(script);
        var padded = new byte[(text.Length + 511) / 512 * 512];
        text.CopyTo(padded, 0);
        string scriptDisk = dir.File($"{name}-check.img", padded);
        string check = "n=0; while [ ! -b /dev/xvdb ] && [ $n -lt 600 ]; do sleep 1; n=$((n+1)); done; "
            + $"head -c {text.Length} /dev/xvdb > /tmp/check; sh /tmp/check; poweroff -f";
        return dir.File(
            $"{name}.cfg",
            $"name = \"{name}\"\nkernel = \"{linux}/vmlinuz\"\nramdisk = \"{linux}/initramfs.cpio.gz\"\nmemory = {memoryMiB}\nvcpus = 1\n"
            + $"disk = [ {disks}'{scriptDisk},raw,xvdb,r' ]\n{deviceLines}\nextra = 'console=hvc0 linux_guest_run=\"{check}\"'\n");
    }

    /// <summary>Waits for the run to end within <paramref name="limit"/>; its output goes to the test's either way.</summary>
    public static async Task<CliResult> WaitAsync(CliRun run, TimeSpan limit, ITestOutputHelper output)
    {
        try
        {
            return await run.WaitAsync(limit);
        }
        finally
        {
            output.WriteLine($"--- stdout\n{run.StdoutSoFar}--- stderr\n{run.StderrSoFar}");
        }
    }
}
