using Xunit.Abstractions;

namespace XenSharp.IntegrationTests.Support;

/// <summary>
/// One `xensharp run` of Debian's Linux (out/linux, prepared by LinuxGuestTests.PrepareAsync) as a 256 MiB, 1-vCPU
/// domain with one device line in its config and a shell command line as linux_guest_run, waited for within
/// <see cref="Limits.LinuxBoot"/>; the run's stdout and stderr go to the test's output whether it ends or not. The
/// device tests (BlockDeviceTests, NetworkDeviceTests) share it and assert on the result themselves.
/// </summary>
public static class LinuxDeviceRun
{
    public static async Task<CliResult> RunAsync(TempDir dir, string name, string deviceLine, string check, ITestOutputHelper output)
    {
        string linux = Path.Combine(RepoPaths.Root, "out", "linux");
        string cfg = dir.File(
            $"{name}.cfg",
            $"name = \"{name}\"\nkernel = \"{linux}/vmlinuz\"\nramdisk = \"{linux}/initramfs.cpio.gz\"\nmemory = 256\nvcpus = 1\n"
            + $"{deviceLine}\nextra = 'console=hvc0 linux_guest_run=\"{check}\"'\n");
        using CliRun run = CliProcess.Start(["run", cfg, "--pool-mb", "384"]);
        try
        {
            return await run.WaitAsync(Limits.LinuxBoot);
        }
        finally
        {
            output.WriteLine($"--- stdout\n{run.StdoutSoFar}--- stderr\n{run.StderrSoFar}");
        }
    }
}
