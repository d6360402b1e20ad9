using System.Text;
using XenSharp.Backends.Console;
using XenSharp.Tests.Builder;
using Xunit;

namespace XenSharp.Tests.Console;

public sealed class ConsoleMuxTests
{
    private readonly CapturingConsole _target = new();
    private readonly ConsoleMux _mux;

    public ConsoleMuxTests() => _mux = new ConsoleMux(_target);

    [Fact]
    public void RingOutputRepeatingConsoleIoIsPrintedOnce()
    {
        Hc("line one\r\n");
        Ring("line ");
        Ring("one\r\n");
        Hc("two\r\n");
        Ring("two\r\n");
        Assert.Equal("line one\r\ntwo\r\n", _target.Text);
    }

    [Fact]
    public void EachChannelAloneIsPrintedInFull()
    {
        Ring("ring only\n");
        Hc("console_io only\n");
        Hc("again\n");
        Assert.Equal("ring only\nconsole_io only\nagain\n", _target.Text);
    }

    [Fact]
    public void TheFirstDifferenceForgetsTheEcho()
    {
        Hc("early boot\n");
        Ring("early XYZ\n");
        Ring("boot\n");
        Assert.Equal("early boot\nXYZ\nboot\n", _target.Text);
    }

    [Fact]
    public void OnlyTheNewestConsoleIoIsRemembered()
    {
        string big = new('a', ConsoleMux.EchoLimit + 1);
        Hc("OLD\n");
        Hc(big);
        Ring("a");
        Ring("OLD\n");
        Assert.Equal("OLD\n" + big + "OLD\n", _target.Text);
    }

    [Fact]
    public void ConsoleIoOnlyLinesBeforeTheRingStartsAreSkipped()
    {
        Hc("console_io only\n");
        Hc("line 0\r\n");
        Ring("line 0\r\n");
        Hc("line 1\r\n");
        Hc("between\n");
        Hc("line 2\r\n");
        Ring("line 1\r\nline 2\r\n");
        Ring("ring only\n");
        Assert.Equal("console_io only\nline 0\r\nline 1\r\nbetween\nline 2\r\nring only\n", _target.Text);
    }

    [Fact]
    public void AMismatchInsideALineIsPrintedFromThere()
    {
        Hc("abc\nabd\n");
        Ring("abX\n");
        Assert.Equal("abc\nabd\nX\n", _target.Text);
    }

    [Fact]
    public void BothSidesReadTheSameInput()
    {
        _target.Input.Enqueue((byte)'x');
        _target.Input.Enqueue((byte)'y');
        var b = new byte[1];
        Assert.Equal(1, _mux.Ring.Read(b));
        Assert.Equal((byte)'x', b[0]);
        Assert.Equal(1, _mux.Hypercall.Read(b));
        Assert.Equal((byte)'y', b[0]);
        Assert.Equal(0, _mux.Ring.Read(b));
    }

    private void Hc(string s) => _mux.Hypercall.Write(Encoding.ASCII.GetBytes(s));

    private void Ring(string s) => _mux.Ring.Write(Encoding.ASCII.GetBytes(s));
}
