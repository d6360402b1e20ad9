using System.Globalization;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Toolstack.Builder;

namespace XenSharp.Bench;

/// <summary>
/// Boots one bench guest in-process and waits for it to end; every figure that times a C guest from its console
/// markers goes through here. The wait is a limit, not a measurement: the figure's own seconds, multiplied by
/// $XENSHARP_TEST_TIME_SCALE (the factor the tests take their limits from; the hardware lane sets it), so a slow
/// machine is not mistaken for a broken guest.
/// </summary>
internal static class BenchGuest
{
    /// <summary>What every bench limit is multiplied by: $XENSHARP_TEST_TIME_SCALE, a positive number (default 1).</summary>
    public static double Scale { get; } = ReadScale();

    /// <summary>
    /// Builds <paramref name="request"/> with its console_io on <paramref name="console"/>, runs it until it ends (at
    /// most <paramref name="limitSeconds"/> times <see cref="Scale"/>), destroys it, and returns the ended domain for
    /// its verdict (<see cref="HypercallBench.CheckVerdict"/>).
    /// </summary>
    public static Domain RunToEnd(XenHypervisor hv, BuildRequest request, TimedConsole console, double limitSeconds)
    {
        Domain d = hv.Control.Get(PvDomainBuilder.Build(hv, request, console));
        try
        {
            hv.Start(d);
            TimeSpan limit = TimeSpan.FromSeconds(limitSeconds * Scale);
            if (!d.Ended.Wait(limit))
            {
                throw new BenchException($"{request.Name} did not end within {limit.TotalSeconds:0} s; console so far:\n{console.Transcript}");
            }
        }
        finally
        {
            hv.Destroy(d);
        }

        return d;
    }

    private static double ReadScale()
    {
        string? v = Environment.GetEnvironmentVariable("XENSHARP_TEST_TIME_SCALE");
        return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0 && double.IsFinite(s) ? s : 1;
    }
}
