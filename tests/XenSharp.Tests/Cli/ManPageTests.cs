using System.CommandLine;
using System.Text.RegularExpressions;
using XenSharp.Cli;
using XenSharp.Cli.Reference;
using Xunit;

namespace XenSharp.Tests.Cli;

/// <summary>
/// `xensharp man`: xensharp(1) has a section per verb of the command tree and no other, each naming the verb's
/// arguments and exactly its own options (every verb's common ones under OPTIONS), read back from the page and
/// compared with the tree; groff renders it without a warning where it is installed.
/// </summary>
public sealed partial class ManPageTests
{
    private static readonly RootCommand Root = XenSharpCommand.Build();

    private static readonly string Page = ManPage.Generate(Root, XenSharpCommand.Version);

    private static string[] Sorted(IEnumerable<string> words) => [.. words.Order(StringComparer.Ordinal)];

    private static string[] SpellingsOf(IEnumerable<Option> options) => Sorted(options.SelectMany(CommandTree.Spellings));

    /// <summary>The page's text from its line <paramref name="heading"/> to the next heading of the same level or above.</summary>
    private static string Section(string heading)
    {
        int start = Page.IndexOf("\n" + heading + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no {heading}");
        Match next = Regex.Match(Page[(start + heading.Length + 2)..], @"^\.S[HS] ", RegexOptions.Multiline);
        return Page.Substring(start, next.Success ? heading.Length + 2 + next.Index : Page.Length - start);
    }

    /// <summary>The options a section names: bold words that start with an escaped hyphen.</summary>
    private static string[] OptionsIn(string section) =>
        Sorted(BoldOption().Matches(section).Select(m => m.Groups[1].Value.Replace("\\-", "-", StringComparison.Ordinal)).Distinct());

    [Fact]
    public void Page_HasASectionPerVerbWithItsArgumentsAndExactlyItsOptions()
    {
        Assert.StartsWith(".\\\" xensharp(1)", Page);
        Assert.Contains("\n.TH XENSHARP 1 ", Page);
        Assert.Equal(Sorted(CommandTree.Verbs(Root).Select(v => v.Name)), Sorted(Regex.Matches(Page, @"^\.SS (.+)$", RegexOptions.Multiline).Select(m => m.Groups[1].Value)));
        foreach (Command verb in CommandTree.Verbs(Root))
        {
            string section = Section(".SS " + verb.Name);
            Assert.Contains(ManPage.Escape(verb.Description!.TrimEnd('.')), section);
            Assert.Equal(SpellingsOf(verb.Options.Where(o => !o.Hidden)), OptionsIn(section));
            foreach (Argument a in CommandTree.Arguments(verb))
            {
                Assert.Contains($"\\fI{ManPage.Escape(CommandTree.Placeholder(a))}\\fR", section);
            }
        }

        Assert.Equal(SpellingsOf(CommandTree.Options(Root)), OptionsIn(Section(".SH OPTIONS")));
    }

    [Fact]
    public void Escape_KeepsRoffFromReadingTextAsRequestsOrEscapes()
    {
        Assert.Equal("\\-\\-socket", ManPage.Escape("--socket"));
        Assert.Equal("a \\e b", ManPage.Escape("a \\ b"));
        Assert.Equal("\\&.hidden", ManPage.Escape(".hidden"));
        Assert.Equal("\\&'quoted", ManPage.Escape("'quoted"));
    }

    [ProgramOnPathFact("groff")]
    public void Groff_RendersThePageWithoutWarnings()
    {
        var r = HostProgram.Run("groff", ["-ww", "-man", "-Tutf8"], Page);
        Assert.True(r.Code == 0, r.Stderr);
        Assert.Empty(r.Stderr);
        Assert.Contains("XENSHARP(1)", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void TheVerb_PrintsThePage()
    {
        var r = HostProgram.Xensharp("man");
        Assert.True(r.Code == 0, r.Stderr);
        Assert.Equal(Page, r.Stdout);
    }

    [GeneratedRegex(@"\\fB(\\-[^\\ ]*(?:\\-[^\\ ]*)*)\\fR")]
    private static partial Regex BoldOption();
}
