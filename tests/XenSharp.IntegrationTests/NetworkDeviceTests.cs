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
        const string check =
            "n=0; while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 600 ]; do sleep 1; n=$((n+1)); done; "
            + "echo net-mac $(cat /sys/class/net/eth0/address); poweroff -f";
        CliResult r = await LinuxDeviceRun.RunAsync(dir, "linux-net", "vif = [ 'mac=00:16:3e:00:00:01' ]", check, output);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("(XEN) linux-net: powered off", r.StderrLines);
        Assert.DoesNotContain(r.StderrLines, l => l.Contains("'vif'", StringComparison.Ordinal));
        string? line = Guests.Lines(r.Stdout).LastOrDefault(l => l.StartsWith("net-mac ", StringComparison.Ordinal));
        Assert.True(line is not null, "no 'net-mac' line from the guest");
        Assert.Equal("00:16:3e:00:00:01", line!["net-mac ".Length..].Trim());
    }
}
