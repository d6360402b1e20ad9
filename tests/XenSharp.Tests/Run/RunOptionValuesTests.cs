using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.Tests.Run;

/// <summary>--timeout, --pool-mb and XENSHARP_POOL_MB as typed: every bad value gets a reason naming it.</summary>
public class RunOptionValuesTests
{
    [Theory]
    [InlineData("30", 30.0)]
    [InlineData("0.5", 0.5)]
    [InlineData("1e3", 1000.0)]
    [InlineData("2147483", 2147483.0)]
    public void GoodTimeouts(string text, double seconds)
    {
        Assert.True(RunOptionValues.TryParseTimeout(text, out double parsed, out string problem), problem);
        Assert.Equal(seconds, parsed);
    }

    [Theory]
    [InlineData("abc", "\"abc\" is not a number of seconds")]
    [InlineData("", "\"\" is not a number of seconds")]
    [InlineData("1,5", "\"1,5\" is not a number of seconds")]
    [InlineData("NaN", "\"NaN\" is not a number of seconds")]
    [InlineData("Infinity", "\"Infinity\" is not a number of seconds")]
    [InlineData("1e999", "\"1e999\" is not a number of seconds")]
    [InlineData("0", "\"0\" is not more than 0 seconds")]
    [InlineData("-5", "\"-5\" is not more than 0 seconds")]
    [InlineData("-0", "\"-0\" is not more than 0 seconds")]
    [InlineData("2147484", "\"2147484\" is more than 2147483 seconds (about 24 days); leave --timeout out to wait for ever")]
    [InlineData("a\nb", "\"a\\nb\" is not a number of seconds")]
    public void BadTimeouts(string text, string expected)
    {
        Assert.False(RunOptionValues.TryParseTimeout(text, out _, out string problem));
        Assert.Equal(expected, problem);
    }

    [Theory]
    [InlineData("16", 16)]
    [InlineData("256", 256)]
    [InlineData("1048576", 1048576)]
    public void GoodPoolSizes(string text, int mib)
    {
        Assert.True(RunOptionValues.TryParsePoolMiB(text, out int parsed, out string problem), problem);
        Assert.Equal(mib, parsed);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("14")]
    [InlineData("17")]
    [InlineData("-256")]
    [InlineData("+256")]
    [InlineData(" 256")]
    [InlineData("1048578")]
    [InlineData("99999999999")]
    [InlineData("256MiB")]
    [InlineData("lots")]
    public void BadPoolSizes(string text)
    {
        Assert.False(RunOptionValues.TryParsePoolMiB(text, out _, out string problem));
        Assert.Equal($"\"{text}\" is not an even number of MiB from 16 to 1048576", problem);
    }
}
