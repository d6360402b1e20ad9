using System.Security.Cryptography;
using XenSharp.IntegrationTests.Support;
using Xunit;
using Xunit.Abstractions;

namespace XenSharp.IntegrationTests;

/// <summary>
/// xl's hot-plug verbs against Debian's Linux in one boot: the daemon (started in a network namespace of the test's
/// own) builds a domain with no disk but its check script and no vif; once the guest has booted, the test plugs in a
/// read-only disk xvdc with known content and a vif whose `bridge=` makes the daemon's TAP uplink in that namespace; the
/// guest's netfront and blkfront see them through their xenbus watches, it reads the disk and pings the test's end of
/// the TAP; then the test unplugs both and the guest sees them go before it powers off. The uplink outlives the vif
/// and goes with the daemon.
/// </summary>
[Collection(LinuxGuestTests.Collection)]
public sealed class LinuxHotplugTests(ITestOutputHelper output) : IDisposable
{
    private const string Name = "lnx-hp";
    private const string Tap = "xshp0";
    private const string Mac = "00:16:3e:00:00:1c";
    private const int DiskBytes = 1 << 20;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// The guest (its script below) says what it has before the hot-plug, waits for /dev/xvdc and eth0, prints the
    /// disk's size, read-only flag and md5 and the interface's MAC, pings 10.79.0.1 (the TAP's address in the test's
    /// namespace) over it, says it is ready to lose them, waits for both to go and says what is left. The host checks
    /// each line, and that the TAP stays after the vif and the domain are gone and goes when the daemon stops.
    /// </summary>
    [KvmFact]
    public async Task Linux_SeesAHotpluggedDiskAndVif_UsesThem_AndSeesThemGo()
    {
        await LinuxGuestTests.PrepareAsync();
        Assert.True(File.Exists("/dev/net/tun"), "no /dev/net/tun: the uplink's TAP cannot be made (load the tun module)");
        byte[] content = RandomNumberGenerator.GetBytes(DiskBytes);
        string image = _dir.File("hot.img", content);
        string cfg = LinuxDeviceRun.Config(_dir, Name, 192, "", Script);
        var env = new Dictionary<string, string> { ["XENSHARP_SOCKET"] = Path.Combine(_dir.Path, "control.sock") };
        string log = Path.Combine(_dir.Path, "daemon.log");

        using NetnsThread ns = await NetnsThread.StartAsync();
        using CliRun daemon = await ns.Run(() => CliProcess.Start(
            ["daemon", "--xenstore-socket", Path.Combine(_dir.Path, "xenstored.sock"), "--log", log, "--pool-mb", "512"], env));
        CliRun? console = null;
        try
        {
            await Limits.Until(() => daemon.StderrSoFar.Contains("daemon listening on", StringComparison.Ordinal) || daemon.HasExited, Limits.Generous, "the daemon's start");
            Assert.False(daemon.HasExited, daemon.StderrSoFar);

            // The xtf-runner order, so the console has the whole boot: create paused, attach, unpause.
            await XlOk(env, "create", "-p", cfg);
            console = CliProcess.Start(["console", Name], env);
            console.CloseInput();
            await XlOk(env, "unpause", Name);
            await Limits.Until(() => console.StdoutSoFar.Contains("hp-ready", StringComparison.Ordinal) || console.HasExited, Limits.LinuxBoot, "the guest's hp-ready");
            Assert.False(console.HasExited, $"the console ended before hp-ready:\n{console.StdoutSoFar}");

            await XlOk(env, "block-attach", Name, $"{image},raw,xvdc,r");
            await XlOk(env, "network-attach", Name, $"mac={Mac}", $"bridge={Tap}");
            Assert.True(await ns.HasInterface(Tap), $"network-attach made no TAP {Tap} in the daemon's namespace");
            await ns.Configure(Tap, 0x0a4f0001, 24); // 10.79.0.1/24

            await Limits.Until(() => console.StdoutSoFar.Contains("hp-unplug", StringComparison.Ordinal) || console.HasExited, Limits.LinuxWork, "the guest's hp-unplug");
            Assert.False(console.HasExited, $"the console ended before hp-unplug:\n{console.StdoutSoFar}");
            await XlOk(env, "block-detach", Name, "xvdc");
            await XlOk(env, "network-detach", Name, "0");

            CliResult ended = await console.WaitAsync(Limits.LinuxWork); // the guest powers off; the console ends with the domain
            Assert.True(ended.ExitCode == 0, ended.ToString());
            string[] lines = [.. Guests.Lines(ended.Stdout).Select(l => l.TrimEnd('\r'))];

            Assert.Equal("xvdc=no eth0=no", Rest(lines, "hp-before"));
            Assert.Equal((DiskBytes / 512).ToString(System.Globalization.CultureInfo.InvariantCulture), Rest(lines, "hp-xvdc-size"));
            Assert.Equal("1", Rest(lines, "hp-xvdc-ro"));
            Assert.Equal(Convert.ToHexStringLower(MD5.HashData(content)), Rest(lines, "hp-xvdc-md5").Split(' ')[0]);
            Assert.Equal(Mac, Rest(lines, "hp-mac"));
            Assert.Equal("3", Rest(lines, "hp-ping"));
            Assert.Equal("xvdc=no eth0=no", Rest(lines, "hp-after"));
            Assert.DoesNotContain("eth0", Rest(lines, "hp-links").Split(','));

            Assert.True(await ns.HasInterface(Tap), "the uplink went with the vif (it is the host's, kept while the daemon runs)");
            Assert.DoesNotContain(Guests.Lines(await XlOk(env, "list")), l => l.StartsWith(Name + " ", StringComparison.Ordinal)); // powered off: destroyed
        }
        finally
        {
            output.WriteLine($"--- console\n{console?.StdoutSoFar}--- daemon stderr\n{daemon.StderrSoFar}--- daemon log\n{(File.Exists(log) ? File.ReadAllText(log) : "")}");
            console?.Dispose();
        }

        CliProcess.Signal(daemon.ProcessId, "TERM");
        Assert.Equal(0, (await daemon.WaitAsync(Limits.Generous)).ExitCode);
        Assert.False(await ns.HasInterface(Tap), "the uplink's TAP outlived the daemon");
    }

    // After boot (linux_guest_run runs it before init's shell): nothing hot-plugged yet; then the devices as they come;
    // the kernel's own console lines are turned down so that they do not cut the script's. Each wait is bounded (a
    // guard: a missing device prints an empty value, which the host's check names).
    private const string Script = """
        dmesg -n 1
        has() { [ -e "$1" ] && echo yes || echo no; }
        echo "hp-before xvdc=$(has /dev/xvdc) eth0=$(has /sys/class/net/eth0)"
        echo hp-ready
        n=0; while { [ ! -b /dev/xvdc ] || [ ! -e /sys/class/net/eth0 ]; } && [ $n -lt 1800 ]; do sleep 1; n=$((n+1)); done
        echo hp-xvdc-size $(cat /sys/block/xvdc/size)
        echo hp-xvdc-ro $(cat /sys/block/xvdc/ro)
        echo hp-xvdc-md5 $(md5sum < /dev/xvdc)
        echo hp-mac $(cat /sys/class/net/eth0/address)
        ip addr add 10.79.0.11/24 dev eth0; ip link set eth0 up
        n=0; until ping -c 1 -W 2 10.79.0.1 >/dev/null 2>&1 || [ $n -ge 300 ]; do n=$((n+1)); sleep 1; done
        echo hp-ping $(ping -c 3 -W 5 10.79.0.1 | grep -c 'bytes from')
        echo hp-unplug
        n=0; while { [ -e /dev/xvdc ] || [ -e /sys/class/net/eth0 ]; } && [ $n -lt 1800 ]; do sleep 1; n=$((n+1)); done
        echo "hp-after xvdc=$(has /dev/xvdc) eth0=$(has /sys/class/net/eth0)"
        echo hp-links $(ls /sys/class/net | tr '\n' ',')
        dmesg | grep -E 'vbd|vif|xvdc|netfront|blkfront|eth0' | sed 's/^/hp-dmesg /'

        """;

    private static async Task<string> XlOk(IReadOnlyDictionary<string, string> env, params string[] args)
    {
        CliResult r = await CliProcess.RunAsync(args, env);
        Assert.True(r.ExitCode == 0, $"xensharp {string.Join(' ', args)}: {r}");
        return r.Stdout;
    }

    /// <summary>What follows "MARKER " on the guest's last line that starts with it.</summary>
    private static string Rest(string[] lines, string marker)
    {
        string? line = lines.LastOrDefault(l => l.StartsWith(marker + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"no '{marker}' line from the guest");
        return line![(marker.Length + 1)..].Trim();
    }
}
