using static XenSharp.Bench.Report;

namespace XenSharp.Bench;

/// <summary>
/// Figure (i), split drivers (bench/README.md): disk and network throughput of Linux domUs through XenSharp's blkback
/// and netback/VFR, each as a ratio against the host's own in the same run — busybox's dd on a file of the same kind
/// (the guest's own busybox) and TCP over the host's loopback (the same splitio). Baselines: mean of one run just
/// before and one just after the guests. Without /dev/kvm the guest column says so and the host's are still measured.
/// </summary>
public static class SplitDriverFigure
{
    /// <summary>The aim stated in XenSharp's issue 13, on a machine with KVM: disk ≥ 0.9× the host's dd.</summary>
    public const double DiskAim = 0.9;

    /// <summary>The aim stated in XenSharp's issue 13, on a machine with KVM: network ≥ 0.5× the host's loopback.</summary>
    public const double NetworkAim = 0.5;

    public static void Run(BenchOptions o, Report report, MachineInfo machine, bool hasKvm, Action<string> progress)
    {
        string Repo(string relative) => Path.Combine(o.Repo, relative);
        LinuxFigures.PrepareLinux(o.Repo, progress); // the guest's busybox is the host's dd, so the initramfs is needed either way
        long bytes = (long)o.IoMib << 20;
        using SplitIo io = SplitIo.Prepare(Repo("bench/native/splitio.c"), Repo("out/linux/initramfs.cpio.gz"));
        string fs = io.FileSystem();

        progress($"(i) host: busybox dd of {o.IoMib} MiB on {fs}, TCP loopback of {o.IoMib} MiB (before the guests) ...");
        (SplitIoLine Write, SplitIoLine Read) diskBefore = io.Disk(o.IoMib);
        SplitIoLine loopBefore = io.Loopback(bytes);

        SplitDriverBench.Result? guest = null;
        string guestWhy = LinuxFigures.NoKvm;
        string where = hasKvm ? machine.KvmWhere : "no /dev/kvm";
        if (hasKvm)
        {
            progress($"(i) booting two Linux domUs on {where}: dd on A's xvda, TCP A → B through the VFR and A → the host through TAP {SplitDriverBench.Tap} (limit {o.LinuxTimeout} s) ...");
            try
            {
                guest = SplitDriverBench.Run(o.CliDll, o.Repo, io.Program, o.IoMib, TimeSpan.FromSeconds(o.LinuxTimeout), progress);
            }
            catch (BenchException e)
            {
                guestWhy = "not measured: " + e.Message.Split('\n')[0];
                progress($"(i) the Linux guests failed: {e.Message}");
            }
        }

        progress("(i) host: the same again (after the guests) ...");
        (SplitIoLine Write, SplitIoLine Read) diskAfter = io.Disk(o.IoMib);
        SplitIoLine loopAfter = io.Loopback(bytes);

        double Mbps(SplitIoLine l) => l.MegabytesPerSecond(l.Bytes == 0 ? bytes : l.Bytes);
        double Mean(SplitIoLine before, SplitIoLine after) => (Mbps(before) + Mbps(after)) / 2;
        string Rate(double mbps) => Invariant($"{mbps:0.0} MB/s");
        string Host(SplitIoLine before, SplitIoLine after) => Invariant($"{Rate(Mean(before, after))} (before {Mbps(before):0.0}, after {Mbps(after):0.0})");

        string[] Row(string what, SplitIoLine before, SplitIoLine after, SplitIoLine? g, string? why, string ratioName, double aim)
        {
            double host = Mean(before, after);
            string missing = why ?? (guest is null ? guestWhy : "not measured: the guest printed no result (see the progress on stderr)");
            return
            [
                what, Host(before, after), g is null ? missing : Rate(Mbps(g)),
                g is null ? "–" : ratioName + " " + Times(Mbps(g) / host),
                Invariant($"≥ {aim:0.0}×") + (g is null ? "" : Mbps(g) / host >= aim ? " (met)" : " (not met)"),
            ];
        }

        report.Table(
            Invariant($"(i) split drivers: {o.IoMib} MiB each through blkback and the VFR, Linux domUs (1 vCPU, 256 MiB) on {where}, against the host's own in the same run (host: mean of one run just before and one just after the guests; MB = 10⁶ bytes)"),
            ["measurement", "host (baseline)", "Linux domU on XenSharp", "ratio", "aim (issue 13, with KVM)"],
            [
                Row(Invariant($"disk, sequential write: busybox `dd if=/dev/zero bs=1M count={o.IoMib} conv=fsync`; guest: onto its xvda (a sparse raw file on the host's {fs}, blkback), host: into a sparse file there (conv=notrunc)"),
                    diskBefore.Write, diskAfter.Write, guest?.DiskWrite, null, "guest/host", DiskAim),
                Row("disk, sequential read: busybox `dd of=/dev/null bs=1M` of the same; guest: its page cache dropped first (so every block goes through blkback, whose reads of the image meet the host's page cache as the write left it), host: the file with the page cache as its write left it",
                    diskBefore.Read, diskAfter.Read, guest?.DiskRead, null, "guest/host", DiskAim),
                Row("network, TCP guest → guest through the VFR (netfront → netback → VFR → netback → netfront); host column: splitio over the host's loopback (127.0.0.1)",
                    loopBefore, loopAfter, guest?.GuestToGuest, null, "guest↔guest/loopback", NetworkAim),
                Row(Invariant($"network, TCP guest → host through the VFR's TAP uplink (`bridge={SplitDriverBench.Tap}`, in a network namespace of the bench's own, 10.78.0.1/24); host column: loopback, as above"),
                    loopBefore, loopAfter, guest?.GuestToHost, guest?.NoUplink is { } nu ? "not measured: " + nu : null, "guest↔host/loopback", NetworkAim),
            ]);
        report.Line("");
        report.Line("Every row is timed by bench/native/splitio.c, one static binary on both sides (`splitio time` around dd, from before its fork to its exit; `splitio send`: connect → the receiver's close after all the data, 64 KiB writes), with each side's own CLOCK_MONOTONIC (the guest's: Xen's PV clock). The host's dd is the guest's busybox, taken from its initramfs. The paper (Xen and the Art of Virtualization, SOSP 2003, section 4) reports near-native disk and network performance for XenoLinux; the aims above are the issue's, meant for a machine with KVM.");
        if (guest is not null)
        {
            report.Line("");
            report.Line(Invariant($"The two guests' run took {guest.WallSeconds:0.0} s of wall clock, boots included."));
        }
    }
}
