using XenSharp.Hypervisor.Time;
using Xunit;

namespace XenSharp.Tests.Time;

public class TimeScaleTests
{
    [Theory]
    [InlineData(2_596_142_000UL, -1)]
    [InlineData(1_000_000_000UL, 1)]     // exactly 1 GHz is doubled into (1, 2] GHz
    [InlineData(1_500_000_000UL, 0)]
    [InlineData(3_000_000_000UL, -1)]
    [InlineData(100_000_000UL, 4)]
    [InlineData(10_000_000_000UL, -3)]
    public void ShiftBringsTheRateIntoOneToTwoGigahertzAndMulKeepsFullPrecision(ulong hz, int shift)
    {
        TimeScale s = TimeScale.FromFrequency(hz);
        Assert.Equal(shift, s.Shift);
        Assert.True(s.Mul >= 1u << 31, $"mul {s.Mul:x} loses precision");
    }

    [Theory]
    [InlineData(2_596_142_000UL)]
    [InlineData(1_000_000_001UL)]
    [InlineData(3_700_000_000UL)]
    [InlineData(100_000_000UL)]
    public void OneSecondOfTicksIsOneSecondToWithinAPartPerBillion(ulong hz)
    {
        TimeScale s = TimeScale.FromFrequency(hz);
        long ns = (long)s.ToNanoseconds(hz);
        Assert.InRange(ns, 1_000_000_000 - 2, 1_000_000_000 + 1);
        Assert.InRange((long)s.ToNanoseconds(hz * 3600), 3_600_000_000_000 - 4000, 3_600_000_000_000 + 4000); // an hour: ±4 µs
        Assert.InRange((long)s.Frequency, (long)hz - (long)(hz / 1_000_000_000) - 2, (long)hz + (long)(hz / 1_000_000_000) + 2);
    }

    [Fact]
    public void ConversionIsMonotonicAndNeverOverflowsForYearsOfTicks()
    {
        TimeScale s = TimeScale.FromFrequency(2_596_142_000);
        ulong prev = 0;
        for (ulong t = 0; t < 10_000; t += 7)
        {
            ulong ns = s.ToNanoseconds(t);
            Assert.True(ns >= prev);
            prev = ns;
        }

        ulong tenYears = 2_596_142_000UL * 3600 * 24 * 365 * 10;
        Assert.InRange(s.ToNanoseconds(tenYears) / 1_000_000_000, 315_359_990UL, 315_360_010UL);
    }

    [Fact]
    public void ZeroFrequencyIsRefused() => Assert.Throws<ArgumentOutOfRangeException>(() => TimeScale.FromFrequency(0));
}
