using XenSharp.Toolstack.Config;
using Xunit;

namespace XenSharp.Tests.Config;

/// <summary>The raw settings layer: what each piece of xl syntax parses to.</summary>
public class ConfigSyntaxTests
{
    private static ConfigString Str(string value, int line = 1) => new(value, line);

    private static ConfigNumber Num(long value, string text, int line = 1) => new(value, line) { Text = text };

    private static ConfigList List(int line, params ConfigValue[] items) => new(items, line);

    public static TheoryData<string, ConfigValue> Values => new()
    {
        { "v = \"text\"", Str("text") },
        { "v = 'text'", Str("text") },
        { "v = \"\"", Str("") },
        { "v = \"it's\"", Str("it's") },
        { "v = 'say \"hi\"'", Str("say \"hi\"") },
        { "v = \"not # a comment\"", Str("not # a comment") },
        { "v = \"semi;colon\"", Str("semi;colon") },
        { "v = \"a\\\\b\"", Str("a\\b") },
        { "v = \"q\\\"q\"", Str("q\"q") },
        { "v = 'q\\'q'", Str("q'q") },
        { "v = \"1\\n2\\t3\"", Str("1\n2\t3") },
        { "v = \"\\a\\b\\f\\r\\v\"", Str("\a\b\f\r\v") },
        { "v = \"\\x41\\x6a\\x4A\"", Str("AjJ") },
        { "v = \"\\101\\0\\12x\"", Str("A\0\nx") },
        { "v = \"héllo ✓\"", Str("héllo ✓") },
        { "v = 128", Num(128, "128") },
        { "v = 0", Num(0, "0") },
        { "v = 0x80", Num(128, "0x80") },
        { "v = 0XfF", Num(255, "0XfF") },
        { "v = 0200", Num(128, "0200") },
        { "v = 9223372036854775807", Num(long.MaxValue, "9223372036854775807") },
        { "v = []", List(1) },
        { "v = [ ]", List(1) },
        { "v = [ \"a\" ]", List(1, Str("a")) },
        { "v = [ \"a\", ]", List(1, Str("a")) },
        { "v = [ \"a\", 2, 'c' ]", List(1, Str("a"), Num(2, "2"), Str("c")) },
        { "v = [ [ \"a\", \"b\" ], [ ] ]", List(1, List(1, Str("a"), Str("b")), List(1)) },
        { "v = [\n  \"a\",\n  \"b\",\n]", List(1, Str("a", 2), Str("b", 3)) },
        { "v = [ # opening comment\n  \"a\", # after a\n\n  # a whole comment line\n  \"b\"\n  ,\n  \"c\" ]", List(1, Str("a", 2), Str("b", 5), Str("c", 7)) },
        { "v = \"x\";", Str("x") },
        { "v = \"x\" ; # trailing", Str("x") },
        { "v=\"x\"", Str("x") },
        { "\t v \t=\t \"x\" \t", Str("x") },
        { "v = \"x\" # comment with \"quotes\" and [brackets", Str("x") },
    };

    [Theory]
    [MemberData(nameof(Values))]
    public void ValueParsesTo(string text, ConfigValue expected)
    {
        var settings = XlConfigParser.ParseSettings(text, "t.cfg");

        Assert.Equal(["v"], settings.Keys);
        Assert.Equal(expected, settings["v"]);
    }

    public static TheoryData<string, string[]> Keys => new()
    {
        { "", [] },
        { "\n\n\n", [] },
        { "# only a comment", [] },
        { "# comment\n\n   # indented comment\n", [] },
        { ";;\n;", [] },
        { "a = 1\nb = 2\n", ["a", "b"] },
        { "a = 1; b = 2; c = 3", ["a", "b", "c"] },
        { "a = 1;\nb = 2;\n", ["a", "b"] },
        { "on_crash = 'destroy'\nmax_grant_frames = 32\n_x = 1\nCamelCase9 = 1", ["on_crash", "max_grant_frames", "_x", "CamelCase9"] },
        { "a = 1\nA = 2", ["a", "A"] },
        { "a = 1", ["a"] },
    };

    [Theory]
    [MemberData(nameof(Keys))]
    public void FileHasSettings(string text, string[] expectedKeys)
    {
        var settings = XlConfigParser.ParseSettings(text, "t.cfg");

        Assert.Equal(expectedKeys, settings.Keys);
    }

    public static TheoryData<string, ConfigValue> LastWins => new()
    {
        { "v = \"first\"\nv = \"second\"", Str("second", 2) },
        { "v = 1\nv = [ \"x\" ]", List(2, Str("x", 2)) },
        { "v = \"ab\"\nv += \"cd\"", Str("abcd", 2) },
        { "v = \"ab\"\nv += 12", Str("ab12", 2) },
        { "v = [ \"a\" ]\nv += [ \"b\", \"c\" ]", List(2, Str("a", 1), Str("b", 2), Str("c", 2)) },
        { "v += \"alone\"", Str("alone") },
        { "v = \"a\"\nv += \"b\"\nv += \"c\"", Str("abc", 3) },
        { "v = \"a\"\nv += \"b\"\nv = \"reset\"", Str("reset", 3) },
    };

    [Theory]
    [MemberData(nameof(LastWins))]
    public void RepeatedKeyKeepsLastOrAppends(string text, ConfigValue expected)
    {
        Assert.Equal(expected, XlConfigParser.ParseSettings(text, "t.cfg")["v"]);
    }

    [Fact]
    public void LinesAreCountedAcrossCommentsBlankLinesAndLists()
    {
        const string text = "# header\n\nname = \"d\"\ndisk = [\n  'a',\n  'b',\n]\n\n  memory = 64 # mib\n";

        var settings = XlConfigParser.ParseSettings(text, "t.cfg");

        Assert.Equal(3, settings["name"].Line);
        Assert.Equal(4, settings["disk"].Line);
        Assert.Equal(9, settings["memory"].Line);
    }

    public static TheoryData<string> SameFileDifferentlyEncoded => new()
    {
        "name = \"d\"\r\ndisk = [\r\n  'a', # c\r\n  'b',\r\n]\r\nmemory = 64\r\n",
        "\uFEFFname = \"d\"\ndisk = [\n  'a', # c\n  'b',\n]\nmemory = 64\n",
        "\uFEFFname = \"d\"\r\ndisk = [\r\n  'a', # c\r\n  'b',\r\n]\r\nmemory = 64",
    };

    [Theory]
    [MemberData(nameof(SameFileDifferentlyEncoded))]
    public void CrLfAndBomReadLikePlainLf(string text)
    {
        var expected = XlConfigParser.ParseSettings("name = \"d\"\ndisk = [\n  'a', # c\n  'b',\n]\nmemory = 64\n", "t.cfg");

        var settings = XlConfigParser.ParseSettings(text, "t.cfg");

        Assert.Equal(expected, settings);
        Assert.Equal(Str("d"), settings["name"]);
        Assert.Equal(Num(64, "64", 6), settings["memory"]);
    }

    [Fact]
    public void SettingsAreReadOnly()
    {
        var settings = XlConfigParser.ParseSettings("a = 1", "t.cfg");

        Assert.False(settings is IDictionary<string, ConfigValue> { IsReadOnly: false });
    }
}
