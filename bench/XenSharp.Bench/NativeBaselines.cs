using System.Globalization;

namespace XenSharp.Bench;

/// <summary>
/// bench/native/baselines.c, compiled with gcc into a temporary directory for this run and deleted afterwards:
/// the native getppid() baseline, the raw-ioctl exit round trip (bare, and with 10 extra ring-0 instructions without or with a memory operand) and the
/// host's TSC rate.
/// </summary>
public sealed class NativeBaselines : IDisposable
{
    private readonly string _directory;
    private readonly string _program;

    private NativeBaselines(string directory, string program)
    {
        _directory = directory;
        _program = program;
    }

    public static NativeBaselines Compile(string source)
    {
        if (!File.Exists(source))
        {
            throw new BenchException($"{source}: no such file");
        }

        string dir = Directory.CreateTempSubdirectory("xensharp-bench-").FullName;
        string program = Path.Combine(dir, "baselines");
        try
        {
            ProcessResult r = ProcessResult.Run("gcc", ["-O2", "-Wall", "-Werror", source, "-o", program]);
            if (r.ExitCode != 0)
            {
                throw new BenchException($"gcc failed on {source} (exit {r.ExitCode}):\n{r.Stdout}{r.Stderr}");
            }
        }
        catch
        {
            Directory.Delete(dir, recursive: true);
            throw;
        }

        return new NativeBaselines(dir, program);
    }

    /// <summary>The compiled program, e.g. for <see cref="KvmEventCounts"/>.</summary>
    public string Program => _program;

    /// <summary>Seconds per getppid() system call, from C.</summary>
    public double GetppidSeconds(int n) => Number("getppid", n) * 1e-9;

    /// <summary>Seconds per raw <c>syscall</c> instruction of getppid (inline asm), from C.</summary>
    public double SyscallSeconds(int n) => Number("syscall", n) * 1e-9;

    /// <summary>Seconds per minor page fault: a write to each of n fresh anonymous pages, from C.</summary>
    public double FaultSeconds(int n) => Number("fault", n) * 1e-9;

    /// <summary>Seconds per KVM_RUN round trip of exit.c's ring-0 OUT loop, from C with raw ioctls.</summary>
    public double ExitSeconds(int n) => Number("exit", n) * 1e-9;

    /// <summary>Seconds per round trip of the same loop with 10 <c>nop</c>s before the <c>out</c>.</summary>
    public double NopLoopSeconds(int n) => Number("nops", n) * 1e-9;

    /// <summary>Seconds per round trip of the same loop with 5 <c>push</c> and 5 <c>pop</c> before the <c>out</c>.</summary>
    public double StackLoopSeconds(int n) => Number("stack", n) * 1e-9;

    /// <summary>The host's TSC ticks per second.</summary>
    /// <summary>Median lateness of a host thread woken by clock_nanosleep 1 ms ahead, in seconds.</summary>
    public double SleepLatenessSeconds(int n) => Number("sleep", n) * 1e-9;

    public double TscHz() => Number("tsc", null) * 1e9;

    /// <summary>Seconds per eventfd hand-off between two threads (bench/native/pingpong.c, compiled on its own).</summary>
    public double PingPongSeconds(int n) => Number("pingpong", n) * 1e-9;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private double Number(string mode, int? n)
    {
        string[] args = n is { } count ? [mode, count.ToString(CultureInfo.InvariantCulture)] : [mode];
        ProcessResult r = ProcessResult.Run(_program, args);
        if (r.ExitCode != 0 || !double.TryParse(r.Stdout.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
        {
            throw new BenchException($"baselines {string.Join(' ', args)} failed (exit {r.ExitCode}): {r.Stdout}{r.Stderr}");
        }

        return value;
    }
}
