using XenSharp.Toolstack.Config;
using Xunit;

namespace XenSharp.Tests.Config;

/// <summary>Malformed files: each must fail with its own message on the line where the problem is.</summary>
public class ConfigSyntaxErrorTests
{
    public static TheoryData<string, int, string> Errors => new()
    {
        // Settings.
        { "name = \"x\"\nkernel = \"k\"\nmemory 128\n", 3, "expected '=' after 'memory'" },
        { "memory\n= 128", 1, "expected '=' after 'memory'" },
        { "memory : 128", 1, "unexpected character ':'" },
        { "memory == 128", 1, "expected a value for 'memory', got '='" },
        { "def main():\n", 1, "expected '=' after 'def'" },
        { "= 5", 1, "expected a setting name, got '='" },
        { "a = 1\n\n42 = 5", 3, "expected a setting name, got '42'" },
        { "\"name\" = \"x\"", 1, "expected a setting name, got \"name\"" },
        { "[ \"a\" ]", 1, "expected a setting name, got '['" },
        { "memory =\nvcpus = 1", 1, "expected a value for 'memory', got end of line" },
        { "memory = # none\nvcpus = 1", 1, "expected a value for 'memory', got end of line" },
        { "a = 1\nmemory = ", 2, "expected a value for 'memory', got end of file" },
        { "memory = ;", 1, "expected a value for 'memory', got ';'" },
        { "memory = ]", 1, "expected a value for 'memory', got ']'" },
        { "memory = 1 2", 1, "expected end of line or ';' after the value of 'memory', got '2'" },
        { "name = \"a\" \"b\"", 1, "expected end of line or ';' after the value of 'name', got \"b\"" },
        { "name = \"a\" vcpus = 1", 1, "expected end of line or ';' after the value of 'name', got 'vcpus'" },
        { "disk = [ 'a' ] ]", 1, "expected end of line or ';' after the value of 'disk', got ']'" },
        { "memory = 1,", 1, "expected end of line or ';' after the value of 'memory', got ','" },

        // Characters and numbers.
        { "memory = @", 1, "unexpected character '@'" },
        { "memory = -1", 1, "unexpected character '-'" },
        { "a = 1\nb = 2\nc = $x", 3, "unexpected character '$'" },
        { "a = 1 +", 1, "unexpected character '+'" },
        { "a = \u0001", 1, "unexpected character '\\x01'" },
        { "memory = 128M", 1, "invalid number '128M'" },
        { "memory = 1.5", 1, "invalid number '1.5'" },
        { "memory = 08", 1, "invalid number '08'" },
        { "memory = 0x", 1, "invalid number '0x'" },
        { "memory = 0xg", 1, "invalid number '0xg'" },
        { "memory = 12_000", 1, "invalid number '12_000'" },
        { "memory = 9223372036854775808", 1, "number '9223372036854775808' does not fit in 64 bits" },
        { "memory = 0xffffffffffffffffff", 1, "number '0xffffffffffffffffff' does not fit in 64 bits" },

        // Strings.
        { "name = \"x\"\nkernel = \"k\"\nmemory = 1\nvcpus = 1\nextra = \"console=hvc0", 5, "unterminated string" },
        { "extra = 'console=hvc0\nvcpus = 1", 1, "unterminated string" },
        { "extra = \"mixed quotes'", 1, "unterminated string" },
        { "extra = \"ends in backslash\\\"", 1, "unterminated string" },
        { "extra = \"ends in backslash\\", 1, "unterminated string" },
        { "extra = \"backslash newline\\\n\"", 1, "unterminated string" },
        { "a = 1\r\nextra = \"crlf\r\nb = 2\r\n", 2, "unterminated string" },
        { "a = \"\\q\"", 1, "invalid escape '\\q' in a string (write '\\\\' for a backslash)" },
        { "kernel = \"C:\\data\\vmlinuz\"", 1, "invalid escape '\\d' in a string (write '\\\\' for a backslash)" },
        { "a = \"\\x4\"", 1, "'\\x' in a string must be followed by two hex digits" },
        { "a = \"\\xZZ\"", 1, "'\\x' in a string must be followed by two hex digits" },
        { "a = \"\\777\"", 1, "octal escape '\\777' in a string is larger than \\377" },

        // Lists.
        { "a = 1\ndisk = [ 'a',\n  'b',\n", 2, "unterminated list for 'disk' (missing ']')" },
        { "disk = [", 1, "unterminated list for 'disk' (missing ']')" },
        { "disk = [ [ 'a' ]", 1, "unterminated list for 'disk' (missing ']')" },
        { "disk = [ 'a' 'b' ]", 1, "expected ',' or ']' in the list for 'disk', got \"b\"" },
        { "disk = [ 'a'\n  'b' ]", 2, "expected ',' or ']' in the list for 'disk', got \"b\"" },
        { "disk = [ 'a'; 'b' ]", 1, "expected ',' or ']' in the list for 'disk', got ';'" },
        { "disk = [ , ]", 1, "expected a value or ']' in the list for 'disk', got ','" },
        { "disk = [ 'a',, ]", 1, "expected a value or ']' in the list for 'disk', got ','" },
        { "disk = [ 'a', = ]", 1, "expected a value or ']' in the list for 'disk', got '='" },
        { "disk = [ x ]", 1, "expected a value or ']' in the list for 'disk', got 'x'" },

        // Appending.
        { "v = 'a'\nv += [ 'b' ]", 2, "cannot use '+=' to add a list to a string or a string to a list for 'v'" },
        { "v = [ 'a' ]\nv += 'b'", 2, "cannot use '+=' to add a list to a string or a string to a list for 'v'" },
        { "v = 1\nv += 2", 2, "cannot use '+=' on 'v', which is a number" },
        { "v + = 1", 1, "unexpected character '+'" },

        // Line counting survives BOMs, CRLF and lone CRs.
        { "\uFEFFa = 1\nb 2", 2, "expected '=' after 'b'" },
        { "a = 1\r\n\r\n# c\r\nb 2\r\n", 4, "expected '=' after 'b'" },
        { "a = 1\r\rb 2", 1, "expected end of line or ';' after the value of 'a', got 'b'" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void MalformedFileIsRejected(string text, int line, string detail)
    {
        var error = Assert.Throws<ConfigException>(() => XlConfigParser.ParseSettings(text, "hello.cfg"));

        Assert.Equal($"hello.cfg:{line}: {detail}", error.Message);
        Assert.Equal("hello.cfg", error.File);
        Assert.Equal(line, error.Line);
        Assert.Equal(detail, error.Detail);
    }

    [Theory]
    [MemberData(nameof(Errors))]
    public void ParseReportsSyntaxErrorsBeforeMissingSettings(string text, int line, string detail)
    {
        var error = Assert.Throws<ConfigException>(() => XlConfigParser.Parse(text, "hello.cfg"));

        Assert.Equal($"hello.cfg:{line}: {detail}", error.Message);
    }

    [Fact]
    public void FileIsNamedAsGiven()
    {
        var error = Assert.Throws<ConfigException>(() => XlConfigParser.ParseSettings("a 1", "../guests/My Guest.cfg"));

        Assert.Equal("../guests/My Guest.cfg:1: expected '=' after 'a'", error.Message);
        Assert.Equal("../guests/My Guest.cfg", error.File);
    }

    [Fact]
    public void MessagesStayOnOneLine()
    {
        var error = Assert.Throws<ConfigException>(() => XlConfigParser.ParseSettings("v = 'a'\nv = 'b' \"multi\\nline\"", "t.cfg"));

        Assert.Equal("t.cfg:2: expected end of line or ';' after the value of 'v', got \"multi\\nline\"", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }
}
