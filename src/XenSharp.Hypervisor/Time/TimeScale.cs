namespace XenSharp.Hypervisor.Time;

/// <summary>
/// vcpu_time_info's tsc_to_system_mul and tsc_shift: a guest turns a TSC delta into nanoseconds as
/// <c>((delta shifted by Shift) * Mul) &gt;&gt; 32</c> (left for a positive shift, right for a negative one). The host
/// uses the same arithmetic, so both sides agree to the nanosecond on what system time a TSC value is.
/// </summary>
internal readonly record struct TimeScale(uint Mul, sbyte Shift)
{
    private const ulong NanosecondsPerSecond = 1_000_000_000;

    /// <summary>
    /// The scale for a clock of <paramref name="hz"/> ticks per second: the shift brings the rate into (1, 2] GHz so
    /// that the multiplier, 10^9 / rate as a 32-bit fraction, keeps its full precision (as Xen's set_time_scale).
    /// </summary>
    public static TimeScale FromFrequency(ulong hz)
    {
        if (hz == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(hz), "a clock needs a non-zero frequency");
        }

        int shift = 0;
        ulong rate = hz;
        while (rate > 2 * NanosecondsPerSecond)
        {
            rate >>= 1;
            shift--;
        }

        while (rate <= NanosecondsPerSecond)
        {
            rate <<= 1;
            shift++;
        }

        ulong mul = (NanosecondsPerSecond << 32) / rate; // < 2^32 because rate > 10^9
        return new TimeScale((uint)mul, (sbyte)shift);
    }

    /// <summary>Nanoseconds for <paramref name="ticks"/>, exactly as a guest computes them.</summary>
    public ulong ToNanoseconds(ulong ticks)
    {
        ulong shifted = Shift >= 0 ? ticks << Shift : ticks >> -Shift;
        return (ulong)(((UInt128)shifted * Mul) >> 32);
    }

    /// <summary>The clock's frequency as the guest derives it: ((10^9 &lt;&lt; 32) / Mul), shifted back.</summary>
    public ulong Frequency
    {
        get
        {
            ulong rate = (NanosecondsPerSecond << 32) / Mul;
            return Shift >= 0 ? rate >> Shift : rate << -Shift;
        }
    }
}
