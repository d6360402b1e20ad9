using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.Tests.Run;

public sealed class TerminalConsoleTests
{
    [Fact]
    public void Alone_a_line_without_newline_is_shown_at_once()
    {
        var output = new StringWriter();
        var console = new TerminalConsole(output, null, new object());

        console.Write("boot\r\nlinux-guest:/root# "u8);

        Assert.Equal("boot\nlinux-guest:/root# ", output.ToString());
        Assert.Equal("boot\nlinux-guest:/root# ", console.Transcript);
    }

    [Fact]
    public void Alone_flush_ends_an_open_line_once()
    {
        var output = new StringWriter();
        var console = new TerminalConsole(output, null, new object());

        console.Write("# "u8);
        console.Flush();
        console.Flush();
        console.Write("done\n"u8);
        console.Flush();

        Assert.Equal("# " + Environment.NewLine + "done\n", output.ToString());
        Assert.Equal("# \ndone\n", console.Transcript);
    }

    [Fact]
    public void Alone_control_bytes_are_shown_as_question_marks()
    {
        var output = new StringWriter();
        var console = new TerminalConsole(output, null, new object());

        console.Write("\u001b[2Jx\ty\u007f\n"u8);

        Assert.Equal("?[2Jx\ty?\n", output.ToString());
    }

    [Fact]
    public void Prefixed_output_waits_for_whole_lines()
    {
        var output = new StringWriter();
        var console = new TerminalConsole(output, "a", new object());

        console.Write("par"u8);
        Assert.Equal("", output.ToString());
        console.Write("tial\nnext"u8);
        Assert.Equal("[a] partial" + Environment.NewLine, output.ToString());
        console.Flush();
        Assert.Equal("[a] partial" + Environment.NewLine + "[a] next" + Environment.NewLine, output.ToString());
    }
}
