using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using XenSharp.IntegrationTests.Support;
using Xunit;
using Xunit.Abstractions;

namespace XenSharp.IntegrationTests;

/// <summary>
/// Debian's Linux with XenSharp's disk and network backends: two domains of one `xensharp run` (one boot each, as a
/// Linux boot costs minutes in the hardware lane), each with a vif on the run's VFR, A also with a disk image and an
/// uplink (`bridge=`) to a TAP in a network namespace of the test's own, where the test serves a token over TCP.
/// </summary>
[Collection(LinuxGuestTests.Collection)]
public sealed class LinuxDeviceTests(ITestOutputHelper output)
{
    private const int ImageBytes = 24 << 20;
    private const int Mib = 1 << 20;
    private const string Tap = "xstest0";
    private const string MacA = "00:16:3e:00:00:0a";
    private const string MacB = "00:16:3e:00:00:0b";
    private const int HostPort = 7000;

    /// <summary>
    /// A (its script below): blkfront sees /dev/xvda with the image's size and reads what the host put at 16 MiB; a MiB
    /// it writes at 20 MiB reads back after the page cache is dropped; it makes an ext4 file system over the first
    /// 16 MiB (e2fsprogs's mkfs.ext4 in the initramfs), mounts it, writes three files, prints their md5 and unmounts.
    /// Then A and B ping each other over the VFR, A sends B a MiB over TCP (busybox nc) and both print its md5; A's
    /// rule `deny tcp dport 5002 out` makes a connection to B's listener on 5002 fail within a bounded attempt while the
    /// same to 5003 answers; A pings the host's end of the TAP and reads the test's token from it over TCP. On the
    /// host, after the run: the files in the image (debugfs) have A's checksums, e2fsck finds the file system clean,
    /// the raw MiB is there and the rest of the pattern past the file system is untouched.
    /// </summary>
    [KvmFact]
    public async Task Linux_Ext4OnBlkfront_TcpBetweenDomains_VfrRule_AndTheTapUplink()
    {
        await LinuxGuestTests.PrepareAsync();
        Assert.True(File.Exists("/dev/net/tun"), "no /dev/net/tun: the uplink's TAP cannot be made (load the tun module)");
        using var dir = new TempDir();
        byte[] pattern = new byte[ImageBytes];
        for (int i = 0; i < pattern.Length; i++)
        {
            pattern[i] = (byte)((i * 7) + (i >> 12));
        }

        string image = dir.File("disk.img", pattern);
        string a = LinuxDeviceRun.Config(
            dir,
            "lnx-a",
            192,
            $"vif = [ 'mac={MacA},bridge={Tap}' ]\nvfr_rules = [ 'vif=0,action=deny,dir=out,proto=tcp,dport=5002' ]",
            ScriptA,
            $"'{image},raw,xvda,rw', ");
        string b = LinuxDeviceRun.Config(dir, "lnx-b", 192, $"vif = [ 'mac={MacB}' ]", ScriptB);
        string token = $"token-{Guid.NewGuid():N}";

        using NetnsThread ns = await NetnsThread.StartAsync();
        using CliRun run = await ns.Run(() => CliProcess.Start(["run", a, b, "--pool-mb", "512"]));
        Assert.Equal(await ns.Id(), new FileInfo($"/proc/{run.ProcessId}/ns/net").LinkTarget); // fork took the thread's namespace
        await Limits.Until(() => ns.HasInterface(Tap).Result || run.HasExited, Limits.LinuxBoot, $"xensharp's TAP {Tap}");
        Assert.False(run.HasExited, $"xensharp exited before it made {Tap}:\n{run.StdoutSoFar}{run.StderrSoFar}");
        await ns.Configure(Tap, 0x0a4e0001, 24); // 10.78.0.1/24
        using TcpListener listener = await ns.Run(() =>
        {
            var l = new TcpListener(IPAddress.Parse("10.78.0.1"), HostPort);
            l.Start();
            return l;
        });
        Task serve = ServeOnce(listener, token);

        CliResult r = await LinuxDeviceRun.WaitAsync(run, Limits.LinuxBoot + Limits.LinuxWork, output);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("(XEN) lnx-a: powered off", r.StderrLines);
        Assert.Contains("(XEN) lnx-b: powered off", r.StderrLines);
        Assert.DoesNotContain(r.StderrLines, l => l.Contains("'disk'", StringComparison.Ordinal) || l.Contains("'vif'", StringComparison.Ordinal));
        IReadOnlyList<string> la = Lines(r, "lnx-a");
        IReadOnlyList<string> lb = Lines(r, "lnx-b");

        // The raw device.
        Assert.Equal((ImageBytes / 512).ToString(CultureInfo.InvariantCulture), Word(la, "blk-size"));
        Assert.Equal(Md5(pattern.AsSpan(16 * Mib, Mib)), Word(la, "blk-read"));
        string wrote = Word(la, "blk-wrote");
        Assert.Equal(wrote, Word(la, "blk-back"));

        // ext4, checked on the host.
        Assert.Equal(["0", "0", "0"], [Word(la, "fs-mkfs"), Word(la, "fs-mount"), Word(la, "fs-umount")]);
        string[] files = la.Where(l => l.StartsWith("fs-file ", StringComparison.Ordinal)).Distinct().ToArray();
        Assert.Equal(3, files.Length);
        foreach (string f in files)
        {
            string[] w = f.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string dumped = Path.Combine(dir.Path, "dump-" + w[1].Replace('/', '-'));
            (int dumpCode, string dumpOut) = Tool(Debugfs, "-R", $"dump /{w[1]} {dumped}", image);
            Assert.True(File.Exists(dumped), $"debugfs could not dump /{w[1]} (exit {dumpCode}): {dumpOut}");
            Assert.Equal(w[2], Md5(File.ReadAllBytes(dumped)));
        }

        (int fsck, string fsckOut) = Tool(Sbin("e2fsck"), "-fn", image);
        Assert.True(fsck == 0, $"e2fsck -fn exited with {fsck}:\n{fsckOut}");
        byte[] after = File.ReadAllBytes(image);
        Assert.True(after.AsSpan(16 * Mib, 4 * Mib).SequenceEqual(pattern.AsSpan(16 * Mib, 4 * Mib)), "the image changed between the file system and the written MiB");
        Assert.Equal(wrote, Md5(after.AsSpan(20 * Mib, Mib)));
        Assert.True(after.AsSpan(21 * Mib).SequenceEqual(pattern.AsSpan(21 * Mib)), "the image changed past the written MiB");

        // The network: MACs, ping both ways, a MiB over TCP, the rule, the uplink.
        Assert.Equal(MacA, Word(la, "net-mac"));
        Assert.Equal(MacB, Word(lb, "net-mac"));
        Assert.Equal("3", Word(la, "net-ping"));
        Assert.Equal("3", Word(lb, "net-ping"));
        Assert.Equal(Word(la, "tcp-sent"), Word(lb, "tcp-got"));
        Assert.Equal("[]", Word(la, "vfr-5002"));
        Assert.Equal("[hello-5003]", Word(la, "vfr-5003"));
        Assert.Equal("2", Word(la, "uplink-ping"));
        Assert.Equal($"[{token}]", Word(la, "uplink-got"));
        await Limits.Within(serve, Limits.Generous, "the host's TCP server");
    }

    // The raw device (16 MiB and up are outside the file system), then ext4, then the network; B may still be booting
    // when A first pings, so A pings until B answers (bounded) before counting.
    private const string ScriptA = """
        waitfor() { n=0; while [ ! -e "$1" ] && [ $n -lt 600 ]; do sleep 1; n=$((n+1)); done; }
        waitfor /dev/xvda; waitfor /sys/class/net/eth0
        echo blk-size $(cat /sys/block/xvda/size)
        echo blk-read $(dd if=/dev/xvda bs=4096 skip=4096 count=256 2>/dev/null | md5sum)
        head -c 1048576 /dev/urandom > /tmp/w; echo blk-wrote $(md5sum < /tmp/w)
        dd if=/tmp/w of=/dev/xvda bs=4096 seek=5120 conv=fsync 2>/dev/null; echo 3 > /proc/sys/vm/drop_caches
        echo blk-back $(dd if=/dev/xvda bs=4096 skip=5120 count=256 2>/dev/null | md5sum)
        mkfs.ext4 -q -F -b 4096 -L xsdata /dev/xvda 4096; echo fs-mkfs $?
        mkdir -p /mnt/d; mount -t ext4 /dev/xvda /mnt/d; echo fs-mount $?
        head -c 300000 /dev/urandom > /mnt/d/a.bin; echo hello ext4 > /mnt/d/b.txt; mkdir /mnt/d/sub; head -c 70000 /dev/urandom > /mnt/d/sub/c.bin
        for f in a.bin b.txt sub/c.bin; do echo fs-file $f $(md5sum < /mnt/d/$f); done
        umount /mnt/d; echo fs-umount $?
        echo net-mac $(cat /sys/class/net/eth0/address)
        ip addr add 10.78.0.11/24 dev eth0; ip link set eth0 up
        n=0; until ping -c 1 -W 2 10.78.0.12 >/dev/null 2>&1 || [ $n -ge 300 ]; do n=$((n+1)); sleep 1; done
        echo net-ping $(ping -c 3 -W 5 10.78.0.12 | grep -c 'bytes from')
        head -c 1048576 /dev/urandom > /tmp/f; echo tcp-sent $(md5sum < /tmp/f)
        n=0; until nc 10.78.0.12 5001 < /tmp/f || [ $n -ge 120 ]; do n=$((n+1)); sleep 1; done
        r=$(timeout 20 nc 10.78.0.12 5002 < /dev/null); echo vfr-5002 "[$r]" $?
        n=0; until r=$(timeout 20 nc 10.78.0.12 5003 < /dev/null) && [ -n "$r" ] || [ $n -ge 60 ]; do n=$((n+1)); sleep 1; done; echo vfr-5003 "[$r]"
        echo uplink-ping $(ping -c 2 -W 5 10.78.0.1 | grep -c 'bytes from')
        n=0; until r=$(timeout 20 nc 10.78.0.1 7000 < /dev/null) && [ -n "$r" ] || [ $n -ge 60 ]; do n=$((n+1)); sleep 1; done; echo uplink-got "[$r]"

        """;

    // B listens on 5002 (which A's rule denies) and 5003 with a greeting each, takes the file on 5001 (its nc's input is
    // a FIFO held open, so B never half-closes before A is done), then serves 5003 and ends.
    private const string ScriptB = """
        n=0; while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 600 ]; do sleep 1; n=$((n+1)); done
        echo net-mac $(cat /sys/class/net/eth0/address)
        ip addr add 10.78.0.12/24 dev eth0; ip link set eth0 up
        (echo hello-5002 | nc -l -p 5002 > /dev/null) &
        mkfifo /tmp/hold
        nc -l -p 5001 < /tmp/hold > /tmp/got &
        got=$!
        exec 3> /tmp/hold
        n=0; until ping -c 1 -W 2 10.78.0.11 >/dev/null 2>&1 || [ $n -ge 300 ]; do n=$((n+1)); sleep 1; done
        echo net-ping $(ping -c 3 -W 5 10.78.0.11 | grep -c 'bytes from')
        wait $got; exec 3>&-
        echo tcp-got $(md5sum < /tmp/got)
        echo hello-5003 | nc -l -p 5003 > /dev/null

        """;

    private static string Debugfs => Sbin("debugfs");

    private static async Task ServeOnce(TcpListener listener, string token)
    {
        using TcpClient c = await listener.AcceptTcpClientAsync();
        await c.GetStream().WriteAsync(Encoding.ASCII.GetBytes(token + "\n"));
        c.Client.Shutdown(SocketShutdown.Send);
    }

    /// <summary>A domain's console lines, without its "[NAME] " prefix.</summary>
    private static IReadOnlyList<string> Lines(CliResult r, string name) =>
        Guests.Lines(r.Stdout).Where(l => l.StartsWith($"[{name}] ", StringComparison.Ordinal)).Select(l => l[(name.Length + 3)..]).ToArray();

    private static string Word(IReadOnlyList<string> lines, string marker)
    {
        string? line = lines.LastOrDefault(l => l.StartsWith(marker + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"no '{marker}' line from the guest");
        return line![(marker.Length + 1)..].Split([' ', '\r'], StringSplitOptions.RemoveEmptyEntries)[0];
    }

    private static string Md5(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(MD5.HashData(data));

    /// <summary>e2fsprogs's tools live in /sbin or /usr/sbin, which a test's PATH may lack.</summary>
    private static string Sbin(string tool) =>
        new[] { "/usr/sbin", "/sbin" }.Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists) ?? tool;

    private static (int Code, string Output) Tool(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr);
    }
}
