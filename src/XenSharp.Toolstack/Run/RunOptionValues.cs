using System.Globalization;
using XenSharp.Toolstack.Config;

namespace XenSharp.Toolstack.Run;

/// <summary>
/// The values `xensharp run` takes from its command line and environment (--timeout, --pool-mb, XENSHARP_POOL_MB),
/// checked as the text the user typed, so that every bad value is answered with one line saying what was expected.
/// </summary>
public static class RunOptionValues
{
    public const int MinPoolMiB = 16;
    public const int MaxPoolMiB = 1 << 20;

    /// <summary>The longest --timeout: what one wait can take (int.MaxValue ms, about 24.8 days).</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMilliseconds(int.MaxValue);

    /// <summary>Seconds, as a finite number above 0 and at most <see cref="MaxTimeout"/> (1.5 and 1e3 are fine).</summary>
    public static bool TryParseTimeout(string text, out double seconds, out string problem)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out seconds) || !double.IsFinite(seconds))
            problem = $"{ConfigText.DoubleQuoted(text)} is not a number of seconds";
        else if (seconds <= 0)
            problem = $"{ConfigText.DoubleQuoted(text)} is not more than 0 seconds";
        else if (seconds > MaxTimeout.TotalSeconds)
            problem = $"{ConfigText.DoubleQuoted(text)} is more than {Math.Floor(MaxTimeout.TotalSeconds):0} seconds (about 24 days); "
                + "leave --timeout out to wait for ever";
        else
            problem = "";
        return problem.Length == 0;
    }

    /// <summary>MiB for the machine pool: an even whole number from <see cref="MinPoolMiB"/> to <see cref="MaxPoolMiB"/>.</summary>
    public static bool TryParsePoolMiB(string text, out int mib, out string problem)
    {
        bool ok = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out mib) && IsPoolMiB(mib);
        problem = ok ? "" : $"{ConfigText.DoubleQuoted(text)} is not {PoolRule}";
        return ok;
    }

    public static bool IsPoolMiB(int mib) => mib >= MinPoolMiB && mib <= MaxPoolMiB && mib % 2 == 0;

    /// <summary>What a pool size must be, for messages.</summary>
    public static string PoolRule => $"an even number of MiB from {MinPoolMiB} to {MaxPoolMiB}";
}
