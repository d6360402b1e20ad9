using System.Diagnostics;
using XenSharp.Bench;
using Xunit;

namespace XenSharp.Tests.Bench;

/// <summary>
/// bench/ figure (e): what bench/native/lmbench-rows.c prints is parsed the same from its own stdout and from a guest
/// console, and becomes a table of guest/host ratios, or says why a guest row is missing. No timing is asserted.
/// </summary>
public sealed class LmbenchRowsTests
{
    private const string NoKvm = "skipped: no /dev/kvm";

    private const string Native = """
        lmbench-rows: begin divisor=1
        lmbench-rows: row null_syscall n=1000000 ns=50.0
        lmbench-rows: row fork_exit n=1000 ns=100000.0
        lmbench-rows: row fork_exec n=500 ns=300000.0
        lmbench-rows: row ctxsw_pipe n=20000 ns=2000.0
        lmbench-rows: row page_fault n=16384 ns=400.0
        lmbench-rows: row mmap_file n=2000 ns=5000.0
        lmbench-rows: end

        """;

    /// <summary>The same run typed at busybox's prompt on hvc0: the echo, CR LF line ends, a kernel line in between.</summary>
    private const string GuestConsole =
        "linux-guest:/root# lmbench-rows 100\r\n"
        + "lmbench-rows: begin divisor=100\r\n"
        + "lmbench-rows: row null_syscall n=10000 ns=100.0\r\n"
        + "lmbench-rows: row fork_exit n=10 ns=400000.0\r\n"
        + "[   42.123456] random: crng init done\r\n"
        + "lmbench-rows: row fork_exec n=5 ns=900000.0\r\n"
        + "lmbench-rows: row ctxsw_pipe n=200 ns=3000.0\r\n"
        + "lmbench-rows: row page_fault n=160 ns=4000.0\r\n"
        + "lmbench-rows: row mmap_file n=20 ns=5000.0\r\n"
        + "lmbench-rows: end\r\n"
        + "linux-guest:/root# ";

    [Fact]
    public void TheProgramsOwnOutputGivesEveryRow()
    {
        LmbenchOutput o = LmbenchOutput.Parse(Native);

        Assert.True(o.Complete);
        Assert.Equal(LmbenchTable.Rows.Select(r => r.Name), o.Rows.Select(r => r.Name));
        Assert.Equal(new LmbenchRow("null_syscall", 1_000_000, 50.0), o.Find("null_syscall"));
        Assert.Equal(300e-6, o.Find("fork_exec")!.Seconds, 12);
    }

    [Fact]
    public void AGuestConsoleParsesLikeTheProgramsOutput()
    {
        LmbenchOutput o = LmbenchOutput.Parse(GuestConsole);

        Assert.True(o.Complete);
        Assert.Equal(6, o.Rows.Count);
        Assert.Equal(new LmbenchRow("fork_exit", 10, 400000.0), o.Find("fork_exit"));
    }

    [Theory]
    [InlineData("lmbench-rows: row fork_exit n=ten ns=1.0\nlmbench-rows: end\n", "malformed line \"lmbench-rows: row fork_exit n=ten ns=1.0\"")]
    [InlineData("lmbench-rows: row fork_exit n=1 ns=1.0 extra\nlmbench-rows: end\n", "malformed line \"lmbench-rows: row fork_exit n=1 ns=1.0 extra\"")]
    [InlineData("lmbench-rows: row fork_exit n=1 ns=1\nlmbench-rows: row fork_exit n=1 ns=2\nlmbench-rows: end\n", "row fork_exit printed twice")]
    [InlineData("lmbench-rows: error fork: Resource temporarily unavailable\n", "error fork: Resource temporarily unavailable")]
    public void ABrokenRunSaysWhat(string text, string problem)
    {
        LmbenchOutput o = LmbenchOutput.Parse(text);

        Assert.False(o.Complete);
        Assert.Equal(problem, o.Problem);
    }

    [Fact]
    public void ARunCutShortIsNotComplete()
    {
        LmbenchOutput o = LmbenchOutput.Parse(Native[..Native.IndexOf("lmbench-rows: row page_fault", StringComparison.Ordinal)]);

        Assert.False(o.Complete);
        Assert.Null(o.Problem);
        Assert.Equal(4, o.Rows.Count);
    }

    [Fact]
    public void TheTableGivesEachRowsGuestOverHostRatio()
    {
        string[][] rows = LmbenchTable.Build(LmbenchOutput.Parse(Native), LmbenchOutput.Parse(GuestConsole), NoKvm).ToArray();

        Assert.Equal(LmbenchTable.Rows.Length, rows.Length);
        Assert.All(rows, r => Assert.Equal(LmbenchTable.Columns.Length, r.Length));
        Assert.Equal(["0.050 µs", "0.100 µs", "guest/host 2.00×"], rows[0][1..]);
        Assert.Equal(["100.000 µs", "400.000 µs", "guest/host 4.00×"], rows[1][1..]);
        Assert.Equal(["0.400 µs", "4.000 µs", "guest/host 10.00×"], rows[4][1..]);
        Assert.Contains("host n = 1000, guest n = 10", rows[1][0], StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutAGuestRunTheTableSaysWhy()
    {
        string[][] rows = LmbenchTable.Build(LmbenchOutput.Parse(Native), null, NoKvm).ToArray();

        Assert.All(rows, r => Assert.Equal([NoKvm, "–"], r[2..]));
        Assert.Equal("100.000 µs", rows[1][1]);
    }

    [Fact]
    public void AGuestRowMissingIsSaidForThatRowOnly()
    {
        LmbenchOutput cut = LmbenchOutput.Parse(GuestConsole[..GuestConsole.IndexOf("lmbench-rows: row mmap_file", StringComparison.Ordinal)]);

        string[][] rows = LmbenchTable.Build(LmbenchOutput.Parse(Native), cut, "not measured").ToArray();

        Assert.Equal("guest/host 10.00×", rows[4][3]);
        Assert.Equal(["not measured", "–"], rows[5][2..]);
    }

    [Fact]
    public void AHostRowMissingStopsTheBench()
    {
        LmbenchOutput host = LmbenchOutput.Parse(Native.Replace("row mmap_file", "row other", StringComparison.Ordinal));

        BenchException e = Assert.Throws<BenchException>(() => LmbenchTable.Build(host, null, "x").ToArray());
        Assert.Contains("mmap_file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheBootPointsAreReadFromAConsole()
    {
        const string Console = "[    8.342404] Freeing unused kernel image (rodata/data gap) memory: 1108K\r\n"
            + "[    9.073307] Run /init as init process\r\n"
            + "linux-guest: /init done after 9.64 s: 6.1.0-57-amd64, 1 CPUs, 390116 kB\r\n\r\n"
            + "BusyBox v1.35.0 built-in shell (ash)\r\n\r\nlinux-guest:/root# ";

        Assert.Equal(9.073307, LinuxBootPoints.KernelRunInit(Console));
        Assert.Equal(9.64, LinuxBootPoints.InitDone(Console));
        Assert.Equal(Console.Length, LinuxBootPoints.PromptEnd(Console));
        Assert.Equal(-1, LinuxBootPoints.PromptEnd(Console[..^1]));
        Assert.Null(LinuxBootPoints.KernelRunInit("[    9.07] Run /init"));
        Assert.Null(LinuxBootPoints.InitDone("linux-guest: insmod xen-blkfront failed"));
    }

    /// <summary>The program itself, built as tools/linux-guest builds it, prints what the parser reads (every count 1).</summary>
    [Fact]
    public void TheProgramBuildsStaticAndItsOutputParses()
    {
        string dir = Directory.CreateTempSubdirectory("xensharp-lmbench-test-").FullName;
        try
        {
            string program = Path.Combine(dir, "lmbench-rows");
            (int gcc, string gccOut) = Run("gcc", "-static", "-O2", "-Wall", "-Werror", Path.Combine(RepoRoot, "bench", "native", "lmbench-rows.c"), "-o", program);
            Assert.True(gcc == 0, gccOut);

            (int exit, string output) = Run(program, "100000000");

            Assert.Equal(0, exit);
            LmbenchOutput o = LmbenchOutput.Parse(output);
            Assert.True(o.Complete, output);
            Assert.Equal(LmbenchTable.Rows.Select(r => r.Name), o.Rows.Select(r => r.Name));
            Assert.All(o.Rows.Where(r => r.Name is not ("ctxsw_pipe" or "page_fault")), r => Assert.Equal(1, r.Count));
            Assert.Equal(2, o.Find("ctxsw_pipe")!.Count);   // one round trip: two switches
            Assert.Equal(4, o.Find("page_fault")!.Count);   // one page, four passes
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Exit, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }

    private static string RepoRoot
    {
        get
        {
            for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "XenSharp.slnx")))
                {
                    return d.FullName;
                }
            }

            throw new DirectoryNotFoundException($"no directory above {AppContext.BaseDirectory} holds XenSharp.slnx");
        }
    }
}
