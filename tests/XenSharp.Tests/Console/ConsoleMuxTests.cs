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
    public void ARingReadAfterEverythingWithARingOnlyLinePrintsEachLineOnce()
    {
        // consdup as the lane saw it (2026-12-07): the backend read the ring only after the guest had written every
        // line, so the ring's batch starts at a line console_io had later than its first and holds one ring-only line.
        foreach (string line in new[] { "console_io only\n", "early 1\n", "early 2\n", "late 1\n", "late 2\n", "SUCCESS\n" })
        {
            Hc(line);
        }

        Ring("early 1\r\nearly 2\r\nlate 1\r\nlate 2\r\nring only\r\nSUCCESS\r\n");
        Assert.Equal("console_io only\nearly 1\nearly 2\nlate 1\nlate 2\nSUCCESS\nring only\r\n", _target.Text);
    }

    [Fact]
    public void ARingLineConsoleIoNeverHadIsPrintedAsItIs()
    {
        Hc("early boot\n");
        Ring("early XYZ\n");
        Ring("boot\n");
        Assert.Equal("early boot\nearly XYZ\nboot\n", _target.Text);
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
    public void RingCrlfRepeatingConsoleIoLfIsPrintedOnce()
    {
        // Mini-OS: every printk goes to console_io as is and to the ring with LF as CRLF.
        Hc("MM: Init\n");
        Hc("  start_pfn: 85\n");
        Ring("MM: Init\r\n  start_pfn: 85\r");
        Ring("\n");
        Hc("done.\n");
        Ring("done.\r\n");
        Ring("ring only\r\n");
        Assert.Equal("MM: Init\n  start_pfn: 85\ndone.\nring only\r\n", _target.Text);
    }

    [Fact]
    public void RingCrlfLinesAfterConsoleIoOnlyLinesAreSkipped()
    {
        // Mini-OS prints its first line to console_io only, then every line to both; the ring is drained later.
        Hc("Bootstrapping...\n");
        Hc("Xen Minimal OS!\n");
        Hc("  nr_pages: 0x2000\n");
        Ring("Xen Minimal OS!\r\n  nr_pages: 0x2000\r\n");
        Assert.Equal("Bootstrapping...\nXen Minimal OS!\n  nr_pages: 0x2000\n", _target.Text);
    }

    [Fact]
    public void ACrInsideARingLineIsNotPartOfTheEcho()
    {
        Hc("ab\n");
        Ring("a\rb\n");
        Assert.Equal("ab\na\rb\n", _target.Text);
    }

    [Fact]
    public void ARingLineThatDiffersIsPrintedWhole()
    {
        Hc("abc\nabd\n");
        Ring("abX\n");
        Assert.Equal("abc\nabd\nabX\n", _target.Text);
    }

    [Fact]
    public void ALineContinuedFromAnEarlierBatchIsPrintedFromTheDifference()
    {
        Hc("abc\n");
        Ring("ab");
        Ring("X\n");
        Assert.Equal("abc\nX\n", _target.Text);
    }

    [Fact]
    public void AConsoleIoOnlyLineSharingTheRingLinesPrefixIsSkipped()
    {
        // The guest's lines all begin "consdup: "; the first went to console_io only.
        Hc("consdup: console_io only\n");
        Hc("consdup: early 1\n");
        Ring("consdup: early 1\r\n");
        Ring("consdup: ring only\r\n");
        Assert.Equal("consdup: console_io only\nconsdup: early 1\nconsdup: ring only\r\n", _target.Text);
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
