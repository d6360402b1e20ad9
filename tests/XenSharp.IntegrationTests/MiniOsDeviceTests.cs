using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using XenSharp.IntegrationTests.Support;
using Xunit;
using Xunit.Abstractions;

namespace XenSharp.IntegrationTests;

/// <summary>
/// Mini-OS's test application (test.c, CONFIG_TEST=y; $XENSHARP_MINIOS, docs/guests.md) as the client of XenSharp's
/// blkback and netback: its blkfront opens device/vbd/768 (vdev hda) and reads, or with BLKTEST_WRITE writes and reads
/// back and checks, sectors for as long as it runs; its netfront connects device/vif/0 and prints each frame it
/// receives. Mini-OS is not built here: the test is skipped unless $XENSHARP_MINIOS names its kernel.
/// </summary>
public sealed partial class MiniOsDeviceTests(ITestOutputHelper output)
{
    private const string Name = "minios";
    private const string Mac = "00:16:3e:00:00:4d";
    private const string Tap = "xsmos0";
    private const long Sectors = 8L << 20; // 4 GiB, sparse: random sectors rarely meet while one is being checked
    private const int SectorBytes = 512;
    private const uint RandMix = 2654435769U; // Mini-OS's RAND_MIX (include/lib.h): each int of a written sector is the last one times it
    private const int BroadcastPayload = 20; // a UDP broadcast of 20 bytes: a 62-byte frame
    private const string Vbd = "/local/domain/0/backend/vbd/1/768";
    private const string Vif = "/local/domain/0/backend/vif/1/0";

    /// <summary>
    /// What blkfront, netfront and test.c print when something failed: an I/O error ("got error code", "read error 5 on",
    /// "flush error", "write barrier error", "packet error", "shutdown_blkfront: error changing state"), a read-back that
    /// differs, a backend that is not there. (Expected: the xenbus test's "Error in xenbus read: ENOENT", and fbfront's and
    /// kbdfront's "Abort transaction" without a vfb/vkbd; blkfront's and netfront's "backend at" lines follow their transactions.)
    /// </summary>
    private static readonly string[] Failures = [" error", "bogus data", "backend not ava", "unrecognized block operation", "when reading the"];

    /// <summary>
    /// One run without --timeout, ended by the test: once blkfront has completed reads (with BLKTEST_WRITE: read back
    /// and checked what it wrote), both devices are Connected (4) on both ends in the store, and a UDP broadcast the
    /// test sends on the VIF's uplink (a TAP in a network namespace of the test's own) reached netfront, the test
    /// writes control/shutdown = poweroff. Mini-OS flushes the disk, closes both devices (each handshake back to
    /// InitWait) and powers off. It printed no I/O error and no bogus data; on the host, sectors 0 and the last hold
    /// what it writes (with BLKTEST_WRITE) or what the test put there (without).
    /// </summary>
    [MiniOsFact]
    public async Task MiniOs_Blkfront_ReadsWritesAndChecks_Netfront_ConnectsAndReceives()
    {
        string kernel = MiniOsFactAttribute.Kernel!;
        Assert.True(File.Exists(kernel), $"{MiniOsFactAttribute.Variable}={kernel} names no file");
        Assert.True(File.Exists("/dev/net/tun"), "no /dev/net/tun: the uplink's TAP cannot be made (load the tun module)");
        using var dir = new TempDir();
        byte[] first = Marked(0x5a), last = Marked(0xa5);
        string image = Path.Combine(dir.Path, "disk.img");
        using (FileStream f = File.Create(image))
        {
            f.SetLength(Sectors * SectorBytes);
            f.Write(first);
            f.Position = (Sectors - 1) * SectorBytes;
            f.Write(last);
        }

        string cfg = dir.Config(
            $"{Name}.cfg",
            kernel,
            32,
            $"on_crash = \"destroy\"\ndisk = [ '{image},raw,hda,rw' ]\nvif = [ 'mac={Mac},bridge={Tap}' ]\n");
        string socketPath = Path.Combine(dir.Path, "store");

        using NetnsThread ns = await NetnsThread.StartAsync();
        using CliRun run = await ns.Run(() => CliProcess.Start(["run", cfg, "--pool-mb", "256", "--xenstore-socket", socketPath]));
        CliResult r;
        try
        {
            await Limits.Until(() => StoreSocketClient.Listening(socketPath) || run.HasExited, Limits.Generous, "the xenstore socket");
            await Limits.Until(() => ns.HasInterface(Tap).Result || run.HasExited, Limits.Generous, $"xensharp's TAP {Tap}");
            Assert.False(run.HasExited, "xensharp ended early" + Hint(run.StdoutSoFar));
            await ns.Configure(Tap, 0x0a4f0001, 24); // 10.79.0.1/24

            // Mini-OS boots (a minute in the hardware lane), its blkfront connects and completes reads.
            await Limits.Until(() => Stats(Console(run.StdoutSoFar)).Any(s => s.Read > 0) || run.HasExited, Limits.Generous, "blkfront's first completed reads");
            Assert.False(run.HasExited, "xensharp ended before blkfront completed a read" + Hint(run.StdoutSoFar));
            using (var store = new StoreSocketClient(socketPath))
            {
                Assert.Equal(
                    "4 4 4 4",
                    string.Join(' ', new[] { $"{Vbd}/state", "/local/domain/1/device/vbd/768/state", $"{Vif}/state", "/local/domain/1/device/vif/0/state" }.Select(p => store.Read(p) ?? "absent")));

                // The broadcast is flooded to every VFR port: netfront prints it.
                using Socket udp = await ns.Run(() =>
                {
                    var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { EnableBroadcast = true };
                    s.Bind(new IPEndPoint(IPAddress.Parse("10.79.0.1"), 0));
                    return s;
                });
                var broadcast = new IPEndPoint(IPAddress.Parse("10.79.0.255"), 9);
                await Limits.Until(
                    () =>
                    {
                        udp.SendTo(new byte[BroadcastPayload], broadcast);
                        return Received(Console(run.StdoutSoFar)) || run.HasExited;
                    },
                    Limits.Generous,
                    "netfront's receipt of a broadcast from the uplink");
                Assert.False(run.HasExited, "xensharp ended before netfront received the broadcast" + Hint(run.StdoutSoFar));

                store.Write("/local/domain/1/control/shutdown", "poweroff");
            }

            r = await run.WaitAsync(Limits.Generous);
        }
        finally
        {
            output.WriteLine($"--- stdout\n{run.StdoutSoFar}--- stderr\n{run.StderrSoFar}");
        }

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains($"(XEN) {Name}: powered off", r.StderrLines);
        string[] lines = Console(r.Stdout);

        // blkfront: the device as blkback describes it, I/O without error, a flush and a clean close.
        Assert.Contains("******************* BLKFRONT for device/vbd/768 **********", lines);
        Assert.Contains($"backend at {Vbd}", lines);
        Assert.Contains($"{Sectors} sectors of {SectorBytes} bytes", lines);
        Assert.Contains($"close blk: backend={Vbd} node=device/vbd/768", lines);
        Assert.DoesNotContain(lines, l => Failures.Any(f => l.Contains(f, StringComparison.Ordinal)));
        (long Read, long Write)[] stats = Stats(lines);
        Assert.Contains(stats, s => s.Read > 0);

        // netfront: connected with the config's MAC, the broadcast received, a clean close.
        Assert.Contains("************************ NETFRONT for device/vif/0 **********", lines);
        Assert.Contains($"backend at {Vif}", lines);
        Assert.Contains($"mac is {Mac}", lines);
        Assert.True(Received(lines), "netfront printed no 62-byte frame");
        Assert.Contains($"close network: backend at {Vif}", lines);

        // The image: Mini-OS writes sectors 0 and the last first, each a run of ints x, x*RAND_MIX, ...
        using (FileStream f = File.OpenRead(image))
        {
            byte[] s0 = new byte[SectorBytes], sLast = new byte[SectorBytes];
            f.ReadExactly(s0);
            f.Position = (Sectors - 1) * SectorBytes;
            f.ReadExactly(sLast);
            if (stats.Any(s => s.Write > 0))
            {
                Assert.True(Written(s0), "sector 0 does not hold a sector Mini-OS wrote");
                Assert.True(Written(sLast), "the last sector does not hold a sector Mini-OS wrote");
            }
            else
            {
                Assert.Equal(first, s0);
                Assert.Equal(last, sLast);
            }
        }
    }

    /// <summary>Mini-OS's console lines: the run's output (one domain: its console as it is, no "[minios] " prefix), without CRs.</summary>
    private static string[] Console(string stdout) => Guests.Lines(stdout).Select(l => l.TrimEnd('\r')).ToArray();

    /// <summary>Why Mini-OS may have crashed: a GPF in its event handler is its own stack misalignment (docs/guests.md).</summary>
    private static string Hint(string stdout) =>
        stdout.Contains("GPF rip", StringComparison.Ordinal) ? " (Mini-OS took a GPF: was it built with -mstackrealign? docs/guests.md, \"Mini-OS\")" : "";

    /// <summary>blkfront's "N read, M write" lines (bytes), printed every ten seconds or so.</summary>
    private static (long Read, long Write)[] Stats(string[] lines) =>
        lines.Select(l => StatsLine().Match(l)).Where(m => m.Success)
            .Select(m => (long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))).ToArray();

    /// <summary>Whether netfront printed the test's broadcast (netif_rx: "62 bytes incoming at 0x...").</summary>
    private static bool Received(string[] lines) =>
        lines.Any(l => l.StartsWith($"{14 + 20 + 8 + BroadcastPayload} bytes incoming at ", StringComparison.Ordinal));

    private static bool Written(byte[] sector)
    {
        for (int i = 4; i < sector.Length; i += 4)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(sector.AsSpan(i)) != unchecked(BinaryPrimitives.ReadUInt32LittleEndian(sector.AsSpan(i - 4)) * RandMix))
            {
                return false;
            }
        }

        return true;
    }

    private static byte[] Marked(byte b)
    {
        byte[] s = new byte[SectorBytes];
        Array.Fill(s, b);
        return s;
    }

    [GeneratedRegex(@"^(\d+) read, (\d+) write$")]
    private static partial Regex StatsLine();
}
