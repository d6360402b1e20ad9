using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.Tests.Run;

public class ConsoleTailTests
{
    [Fact]
    public void TheLastLinesComeInOrderWithoutBlankOnes()
    {
        string transcript = "one\ntwo\n\nthree\n  \nfour\n";

        Assert.Equal(["two", "three", "four"], ConsoleTail.LastLines(transcript, 3));
        Assert.Equal(["one", "two", "three", "four"], ConsoleTail.LastLines(transcript, 30));
    }

    [Fact]
    public void ALastLineWithoutItsNewlineCounts()
    {
        Assert.Equal(["panic", "linux-guest:/root# "], ConsoleTail.LastLines("boot\npanic\nlinux-guest:/root# ", 2));
    }

    [Fact]
    public void NothingPrintedIsNoLines()
    {
        Assert.Empty(ConsoleTail.LastLines("", ConsoleTail.CrashLines));
        Assert.Empty(ConsoleTail.LastLines("\n\n", ConsoleTail.CrashLines));
    }
}
