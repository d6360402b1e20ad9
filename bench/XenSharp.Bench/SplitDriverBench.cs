using System.Diagnostics;
using System.Globalization;
using System.Text;
using XenSharp.IntegrationTests.Support;

namespace XenSharp.Bench;

/// <summary>
/// Figure (i)'s guest side: two Debian Linux domUs (1 vCPU, 256 MiB each) of one <c>dotnet xensharp.dll run</c>, each
/// running a script of the bench's with no one typing (a read-only disk xvdb, as the tests' LinuxDeviceRun; splitio
/// comes as a second one, xvdc). A has a raw image as xvda and a vif with <c>bridge=</c><see cref="Tap"/>, B a vif on
/// the same VFR. A waits until B answers a ping, then times busybox's dd writing and reading its xvda (its page cache
/// dropped before each), sends B the same number of bytes over TCP, and the host's end of the TAP as many. The run is
/// started from a thread in a network namespace of the bench's own, where the TAP appears; the bench gives it
/// 10.78.0.1/24 and runs splitio's receiver there. Without a namespace (not root, no /dev/net/tun) A has no uplink and
/// the guest↔host row says why.
/// </summary>
public static class SplitDriverBench
{
    public const string Tap = "xsbench0";
    private const string MacA = "00:16:3e:00:00:1a";
    private const string MacB = "00:16:3e:00:00:1b";
    private const string Uplink = "10.78.0.1";
    private const int GuestPort = 5001, HostPort = 7001;

    /// <summary>What the guests printed; a row whose line is missing is null.</summary>
    public sealed record Result(SplitIoLine? DiskWrite, SplitIoLine? DiskRead, SplitIoLine? GuestToGuest, SplitIoLine? GuestToHost, string? NoUplink, double WallSeconds);

    public static Result Run(string cliDll, string repo, string splitio, int mib, TimeSpan limit, Action<string> progress)
    {
        string linux = Path.Combine(repo, "out", "linux");
        string dir = Directory.CreateTempSubdirectory("xensharp-bench-split-guests-").FullName;
        NetnsThread? ns = null;
        string? noUplink = null;
        try
        {
            if (!File.Exists("/dev/net/tun"))
            {
                noUplink = "no /dev/net/tun (load the tun module)";
            }
            else
            {
                try
                {
                    ns = NetnsThread.StartAsync().GetAwaiter().GetResult();
                }
                catch (IOException e)
                {
                    noUplink = "no network namespace of the bench's own: " + e.Message;
                }
            }

            long bytes = (long)mib << 20;
            string image = Path.Combine(dir, "guest.img");
            using (FileStream f = File.Create(image))
            {
                f.SetLength(bytes);
            }

            byte[] program = File.ReadAllBytes(splitio);
            string a = Config(dir, linux, "split-a", Script(true, ns is not null, mib, program.Length), $"'{image},raw,xvda,rw', ", program,
                ns is null ? $"vif = [ 'mac={MacA}' ]" : $"vif = [ 'mac={MacA},bridge={Tap}' ]");
            string b = Config(dir, linux, "split-b", Script(false, false, mib, program.Length), "", program, $"vif = [ 'mac={MacB}' ]");
            return Boot(cliDll, repo, splitio, [a, b], ns, noUplink, limit, progress);
        }
        finally
        {
            ns?.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static Result Boot(string cliDll, string repo, string splitio, string[] configs, NetnsThread? ns, string? noUplink, TimeSpan limit, Action<string> progress)
    {
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var psi = new ProcessStartInfo("dotnet", [cliDll, "run", .. configs])
        {
            RedirectStandardInput = true, // kept open and silent: nothing of the bench's own input reaches the consoles
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = repo,
        };
        long t0 = Clock.Now;
        long deadline = t0 + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        Process p = ns is null ? Start(psi) : ns.Run(() => Start(psi)).GetAwaiter().GetResult();
        Process? receiver = null;
        using (p)
        {
            p.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not { } line)
                {
                    return;
                }

                lock (stdout)
                {
                    stdout.AppendLine(line);
                }

                if (line.Contains(" split", StringComparison.Ordinal) || line.Contains("linux-guest: /init done", StringComparison.Ordinal)) // results, and splitio's complaints
                {
                    progress(Report.Invariant($"(i) [{Clock.Seconds(t0, Clock.Now):0.0} s] {line.Trim()}"));
                }
            };
            p.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is { } line)
                {
                    lock (stderr)
                    {
                        stderr.AppendLine(line);
                    }
                }
            };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            string Tail()
            {
                lock (stdout)
                {
                    lock (stderr)
                    {
                        return string.Join('\n', (stdout.ToString() + stderr).Split('\n').TakeLast(20));
                    }
                }
            }

            try
            {
                if (ns is not null)
                {
                    while (!ns.HasInterface(Tap).GetAwaiter().GetResult())
                    {
                        if (p.HasExited || Clock.Now > deadline)
                        {
                            throw new BenchException($"xensharp run made no TAP {Tap}; the end of its output:\n{Tail()}");
                        }

                        Thread.Sleep(200);
                    }

                    ns.Configure(Tap, 0x0a4e0001, 24).GetAwaiter().GetResult(); // 10.78.0.1/24
                    receiver = ns.Run(() => Start(new ProcessStartInfo(splitio, ["recv", Uplink, HostPort.ToString(CultureInfo.InvariantCulture)])
                    {
                        RedirectStandardOutput = true,
                        RedirectStandardError = true,
                        UseShellExecute = false,
                    })).GetAwaiter().GetResult();
                    progress($"(i) {Tap} is up in the bench's network namespace ({Uplink}/24); splitio receives on port {HostPort}");
                }

                if (!p.WaitForExit(Math.Max(1, (int)((deadline - Clock.Now) * 1000 / Stopwatch.Frequency))))
                {
                    p.Kill(entireProcessTree: true);
                    p.WaitForExit();
                    throw new BenchException(Report.Invariant($"the Linux guests did not get through within {limit.TotalSeconds:0} s (--linux-timeout); the end of their output:\n{Tail()}"));
                }

                p.WaitForExit(); // the readers drain
                double wall = Clock.Seconds(t0, Clock.Now);
                if (p.ExitCode != 0)
                {
                    throw new BenchException($"xensharp run ended with exit status {p.ExitCode}; the end of its output:\n{Tail()}");
                }

                string text;
                lock (stdout)
                {
                    text = stdout.ToString();
                }

                return new Result(
                    SplitIoLine.Find(text, "split-disk-write"),
                    SplitIoLine.Find(text, "split-disk-read"),
                    SplitIoLine.Find(text, "split-net-guest"),
                    ns is null ? null : SplitIoLine.Find(text, "split-net-host"),
                    noUplink,
                    wall);
            }
            finally
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                }

                if (receiver is not null)
                {
                    if (!receiver.HasExited)
                    {
                        receiver.Kill();
                    }

                    receiver.WaitForExit();
                    receiver.Dispose();
                }
            }
        }
    }

    private static Process Start(ProcessStartInfo psi) => Process.Start(psi) ?? throw new BenchException($"could not start {psi.FileName}");

    /// <summary>
    /// A's script (disk, then the network) or B's (receive once). Each result line is "split-WHAT bytes=B ns=N" from
    /// splitio (its time mode around busybox's dd, or its sender); A first waits until B answers, so the disk is timed
    /// while B idles, not while it boots.
    /// </summary>
    public static string Script(bool isA, bool uplink, int mib, int programBytes)
    {
        var s = new StringBuilder();
        s.Append("waitfor() { n=0; while [ ! -e \"$1\" ] && [ $n -lt 600 ]; do sleep 1; n=$((n+1)); done; }\n");
        s.Append(Report.Invariant($"waitfor /dev/xvdc; head -c {programBytes} /dev/xvdc > /tmp/splitio; chmod +x /tmp/splitio\n"));
        s.Append("waitfor /sys/class/net/eth0\n");
        if (!isA)
        {
            s.Append("ip addr add 10.78.0.12/24 dev eth0; ip link set eth0 up\n");
            s.Append(Report.Invariant($"echo split-net-recv $(/tmp/splitio recv 10.78.0.12 {GuestPort})\n"));
            return s.ToString();
        }

        long bytes = (long)mib << 20;
        s.Append("waitfor /dev/xvda\n");
        s.Append("ip addr add 10.78.0.11/24 dev eth0; ip link set eth0 up\n");
        s.Append("n=0; until ping -c 1 -W 2 10.78.0.12 >/dev/null 2>&1 || [ $n -ge 300 ]; do n=$((n+1)); sleep 1; done\n");
        s.Append("sync; echo 3 > /proc/sys/vm/drop_caches\n");
        s.Append(Report.Invariant($"echo split-disk-write $(/tmp/splitio time /bin/busybox dd if=/dev/zero of=/dev/xvda bs=1M count={mib} conv=fsync)\n"));
        s.Append("echo 3 > /proc/sys/vm/drop_caches\n");
        s.Append(Report.Invariant($"echo split-disk-read $(/tmp/splitio time /bin/busybox dd if=/dev/xvda of=/dev/null bs=1M count={mib})\n"));
        s.Append(Report.Invariant($"echo split-net-guest $(/tmp/splitio send 10.78.0.12 {GuestPort} {bytes})\n"));
        if (uplink)
        {
            s.Append($"n=0; until ping -c 1 -W 2 {Uplink} >/dev/null 2>&1 || [ $n -ge 300 ]; do n=$((n+1)); sleep 1; done\n");
            s.Append(Report.Invariant($"echo split-net-host $(/tmp/splitio send {Uplink} {HostPort} {bytes})\n"));
        }

        return s.ToString();
    }

    /// <summary>NAME.cfg: Debian's Linux, 1 vCPU, 256 MiB, the script as xvdb, splitio as xvdc, run by /init and followed by poweroff.</summary>
    private static string Config(string dir, string linux, string name, string script, string disks, byte[] program, string vif)
    {
        byte[] text = Encoding.ASCII.GetBytes(script);
        string scriptDisk = Padded(dir, name + "-script.img", text);
        string programDisk = Padded(dir, name + "-splitio.img", program);
        string check = "n=0; while [ ! -b /dev/xvdb ] && [ $n -lt 600 ]; do sleep 1; n=$((n+1)); done; "
            + Report.Invariant($"head -c {text.Length} /dev/xvdb > /tmp/check; sh /tmp/check; poweroff -f");
        string path = Path.Combine(dir, name + ".cfg");
        File.WriteAllText(
            path,
            $"name = \"{name}\"\nkernel = \"{linux}/vmlinuz\"\nramdisk = \"{linux}/initramfs.cpio.gz\"\nmemory = 256\nvcpus = 1\n"
            + $"disk = [ {disks}'{scriptDisk},raw,xvdb,r', '{programDisk},raw,xvdc,r' ]\n{vif}\nextra = 'console=hvc0 linux_guest_run=\"{check}\"'\n");
        return path;
    }

    /// <summary>A file of <paramref name="data"/> padded with zeros to whole 512-byte sectors.</summary>
    private static string Padded(string dir, string name, byte[] data)
    {
        var padded = new byte[(data.Length + 511) / 512 * 512];
        data.CopyTo(padded, 0);
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, padded);
        return path;
    }
}
