using System.Globalization;

namespace XenSharp.IntegrationTests.Support;

/// <summary>
/// Every wall-clock limit the integration tests set comes from here. Invariants:
/// - A limit is how long a test waits before it calls the product broken, never a measurement: no test asserts
///   that something was fast.
/// - Every limit is multiplied by <see cref="Scale"/> ($XENSHARP_TEST_TIME_SCALE, default 1): tests/hwkvm/run sets
///   it (10) because QEMU's software CPU there is 10-100x slower than the host, and a busy machine slower still.
/// - No run's own --timeout races the test's client: a test that talks to a running domain ends the run itself
///   (XenstoreSocketTests types the line its guest waits for), and a `xensharp run` child is always given
///   <see cref="Generous"/> more than its --timeout (CliProcess), so the CLI's timeout, not the test's, comes first.
/// - The one limit a run relies on for an ordering is <see cref="SpinTimeout"/>: a well-behaved domain beside a
///   spinning one must power off before the spinner's timeout ends the run.
/// </summary>
public static class Limits
{
    public const string ScaleVariable = "XENSHARP_TEST_TIME_SCALE";

    /// <summary>What every limit is multiplied by: $XENSHARP_TEST_TIME_SCALE, a positive number (default 1).</summary>
    public static double Scale { get; } = ReadScale();

    /// <summary>For things that take milliseconds when the product works: 60 s (scaled).</summary>
    public static TimeSpan Generous { get; } = Scaled(60);

    /// <summary>
    /// The --timeout of a run with a guest that spins for ever, 3 s (scaled): long enough for the spinner's banner and
    /// for a hello domain beside it to boot and power off first (milliseconds when the product works).
    /// </summary>
    public static TimeSpan SpinTimeout { get; } = Scaled(3);

    /// <summary>
    /// Debian's Linux from `xensharp run` to its shell prompt, 120 s (scaled): seconds on hardware KVM, 80-120 s (about 400
    /// on a machine shared with other lanes) in the hardware lane, whose scale makes it 1200 s there; two domains side by
    /// side with 4 + 1 vCPUs (LinuxGuestUserlandTests) took 942 s of it on a machine at load average ~20.
    /// </summary>
    public static TimeSpan LinuxBoot { get; } = Scaled(120);

    /// <summary>
    /// One heavy command in a Linux guest's shell (a 20 MB sort, 1000 processes one after another, filling most of 4 GiB),
    /// 120 s (scaled): seconds on hardware KVM, a minute or two in the hardware lane.
    /// </summary>
    public static TimeSpan LinuxWork { get; } = Scaled(120);

    /// <summary>tools/linux-guest: the download (once, about 70 MB) and the initramfs, 300 s (scaled).</summary>
    public static TimeSpan LinuxPrepare { get; } = Scaled(300);

    /// <summary>Between two looks at something a test polls for (not a limit: how often, not how long).</summary>
    public static TimeSpan PollInterval { get; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// How many times a test repeats a unit of work whose count is not what it checks (e.g. processes started one after
    /// another): <paramref name="count"/> on a host's own CPU, divided by <see cref="Scale"/> (rounded up) where the
    /// scale says the CPU is emulated, so the work fits the same scaled limit instead of taking Scale times as long.
    /// </summary>
    public static int Work(int count) => Math.Max(1, (int)Math.Ceiling(count / Scale));

    /// <summary><paramref name="seconds"/> times <see cref="Scale"/>.</summary>
    public static TimeSpan Scaled(double seconds) => TimeSpan.FromSeconds(seconds * Scale);

    /// <summary>A limit as `xensharp run --timeout` takes it: seconds.</summary>
    public static string Seconds(TimeSpan limit) => limit.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    public static async Task<T> Within<T>(Task<T> task, TimeSpan limit, string what)
    {
        try
        {
            return await task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{what} did not finish within {Describe(limit)}");
        }
    }

    public static async Task Within(Task task, TimeSpan limit, string what)
    {
        try
        {
            await task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{what} did not finish within {Describe(limit)}");
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="limit"/> passes.</summary>
    public static async Task Until(Func<bool> condition, TimeSpan limit, string what)
    {
        DateTime end = DateTime.UtcNow + limit;
        while (!condition())
        {
            if (DateTime.UtcNow > end)
            {
                throw new TimeoutException($"{what} did not happen within {Describe(limit)}");
            }

            await Task.Delay(PollInterval);
        }
    }

    /// <summary>"60 s", or "600 s (60 s x XENSHARP_TEST_TIME_SCALE=10)" when scaled.</summary>
    public static string Describe(TimeSpan limit) =>
        Scale == 1 ? $"{Seconds(limit)} s" : $"{Seconds(limit)} s ({Seconds(limit / Scale)} s x {ScaleVariable}={Scale.ToString(CultureInfo.InvariantCulture)})";

    private static double ReadScale()
    {
        string? v = Environment.GetEnvironmentVariable(ScaleVariable);
        if (string.IsNullOrEmpty(v))
        {
            return 1;
        }

        return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double scale) && scale > 0 && double.IsFinite(scale)
            ? scale
            : throw new InvalidOperationException($"{ScaleVariable} must be a positive number (what the tests' time limits are multiplied by), got \"{v}\"");
    }
}
