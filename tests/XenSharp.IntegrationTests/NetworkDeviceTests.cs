using XenSharp.IntegrationTests.Support;
using Xunit;
using Xunit.Abstractions;

namespace XenSharp.IntegrationTests;

/// <summary>
/// Debian's Linux with `vif=['mac=00:16:3e:00:00:01']`: its xen-netfront (loaded by the initramfs) meets XenSharp's
/// netback through the xenbus handshake, and eth0 appears with the config's MAC.
/// </summary>
[Collection(LinuxGuestTests.Collection)]
public sealed class NetworkDeviceTests(ITestOutputHelper output)
{
    /// <summary>The guest waits for eth0, prints its address and its backend's state as netfront saw it, then powers off.</summary>
    [KvmFact]
    public async Task Linux_SeesEth0WithTheConfiguredMac()
    {
        await LinuxGuestTests.PrepareAsync();
        using var dir = new TempDir();
        string linux = Path.Combine(RepoPaths.Root, "out", "linux");
        const string check =
            "n=0; while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 600 ]; do sleep 1; n=$((n+1)); done; "
            + "echo net-mac $(cat /sys/class/net/eth0/address); poweroff -f";
        string cfg = dir.File(
            "linux-net.cfg",
            $"name = \"linux-net\"\nkernel = \"{linux}/vmlinuz\"\nramdisk = \"{linux}/initramfs.cpio.gz\"\nmemory = 256\nvcpus = 1\n"
            + $"vif = [ 'mac=00:16:3e:00:00:01' ]\nextra = 'console=hvc0 linux_guest_run=\"{check}\"'\n");
        using CliRun run = CliProcess.Start(["run", cfg, "--pool-mb", "384"]);
        CliResult r;
        try
        {
            r = await run.WaitAsync(Limits.LinuxBoot);
        }
        finally
        {
            output.WriteLine($"--- stdout\n{run.StdoutSoFar}--- stderr\n{run.StderrSoFar}");
        }

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("(XEN) linux-net: powered off", r.StderrLines);
        Assert.DoesNotContain(r.StderrLines, l => l.Contains("'vif'", StringComparison.Ordinal));
        string? line = Guests.Lines(r.Stdout).LastOrDefault(l => l.StartsWith("net-mac ", StringComparison.Ordinal));
        Assert.True(line is not null, "no 'net-mac' line from the guest");
        Assert.Equal("00:16:3e:00:00:01", line!["net-mac ".Length..].Trim());
    }
}
