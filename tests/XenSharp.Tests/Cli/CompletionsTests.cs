using System.CommandLine;
using System.Text.RegularExpressions;
using XenSharp.Cli;
using XenSharp.Cli.Reference;
using Xunit;

namespace XenSharp.Tests.Cli;

/// <summary>
/// `xensharp completions bash|zsh|fish`: each script offers exactly the command tree's verbs, and per verb exactly
/// its options (its own and the ones every verb takes) — read back from the script and compared with the tree, so a
/// verb or option added to the tree is checked without touching this test, and nothing the tree lacks passes. The
/// shells accept the scripts (`bash -n`; `zsh -n` and `fish -n` where installed), and bash's, run, completes verbs,
/// options, fixed words and domain names asked of `xensharp list` (a stand-in that prints xl's list).
/// </summary>
public sealed partial class CompletionsTests
{
    private static readonly RootCommand Root = XenSharpCommand.Build();

    private static IEnumerable<string> VerbNames => CommandTree.Verbs(Root).Select(v => v.Name);

    private static string[] SpellingsOf(IEnumerable<Option> options) => [.. options.SelectMany(CommandTree.Spellings).Order(StringComparer.Ordinal)];

    private static string[] Sorted(IEnumerable<string> words) => [.. words.Order(StringComparer.Ordinal)];

    [Fact]
    public void TheTree_HasVerbsWithOptionsAndDomainArguments()
    {
        // What the comparisons below rest on: a tree with something in it.
        Assert.Contains("completions", VerbNames);
        Assert.Contains("man", VerbNames);
        Assert.Contains(CommandTree.Verbs(Root), v => v.Options.Count > 0);
        Assert.Contains(CommandTree.Verbs(Root), v => CommandTree.Arguments(v).Any(a => CommandTree.ValueOf(a).Kind == ValueKind.Domain));
        Assert.Contains("--socket", SpellingsOf(CommandTree.Options(CommandTree.Verbs(Root).First(v => v.Name == "destroy"))));
    }

    [Fact]
    public void Bash_OffersExactlyTheTreesVerbsAndEachVerbsOptions()
    {
        string script = BashCompletion.Generate(Root);
        Dictionary<string, string> arms = Arms(script, BashArm());

        // Before a verb: the verbs and the root's options.
        Assert.Equal(Sorted(VerbNames.Concat(SpellingsOf(CommandTree.Options(Root)))), Sorted(Words(Regex.Match(arms["''"], @"^      _xensharp_offer words '([^']*)'$", RegexOptions.Multiline))));
        Assert.Equal(Sorted(VerbNames), Sorted(arms.Keys.Where(k => k is not "''" and not "*")));
        foreach (Command verb in CommandTree.Verbs(Root))
        {
            string[] offered = Words(Regex.Match(arms[verb.Name], @"then _xensharp_offer words '([^']*)'"));
            Assert.Equal(SpellingsOf(CommandTree.Options(verb)), Sorted(offered));
            Assert.All(verb.Options.Where(o => !o.Hidden), o => Assert.Contains(o.Name, offered));
        }
    }

    [Fact]
    public void Bash_AcceptsTheScript()
    {
        var r = HostProgram.Run("bash", ["-n"], BashCompletion.Generate(Root));
        Assert.True(r.Code == 0, r.Stderr);
        Assert.Empty(r.Stderr);
    }

    [Fact]
    public void Bash_CompletesVerbsOptionsWordsAndDomainNamesFromList()
    {
        string dir = Directory.CreateTempSubdirectory("xscomp").FullName;
        try
        {
            string script = Path.Combine(dir, "xensharp.bash");
            File.WriteAllText(script, BashCompletion.Generate(Root));
            // A stand-in for xensharp: `list` prints xl's header and two domains; with --socket S, a third named after S.
            string program = Path.Combine(dir, "xensharp");
            File.WriteAllText(program, "#!/bin/sh\n[ \"$1\" = list ] || exit 1\n"
                + "printf 'Name                                        ID   Mem VCPUs\\tState\\tTime(s)\\nDomain-0 0 51 2 r----- 0.5\\nweb 1 32 1 -b---- 0.1\\n'\n"
                + "[ \"$2\" = --socket ] && echo \"at-$3 2 32 1 -b---- 0.1\"\nexit 0\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(program, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            string Complete(params string[] words)
            {
                string array = string.Join(' ', new[] { program }.Concat(words).Select(w => "'" + w + "'"));
                var r = HostProgram.Run("bash", ["-c", $"source '{script}'; COMP_WORDS=({array}); COMP_CWORD={words.Length}; _xensharp; printf '%s\\n' \"${{COMPREPLY[@]}}\""]);
                Assert.True(r.Code == 0, r.Stderr);
                return string.Join(' ', r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            }

            Assert.Equal("destroy", Complete("des"));
            Assert.Equal("Domain-0 web", Complete("destroy", ""));
            Assert.Equal("web", Complete("console", "w"));
            Assert.Equal("Domain-0 web at-s", Complete("--socket", "s", "pause", ""));
            Assert.Equal("Domain-0 web", Complete("sched-bvt", "-d", ""));
            Assert.Equal("", Complete("rename", "web", "")); // the new name: nothing to offer
            Assert.Equal("bash fish zsh", Complete("completions", ""));
            Assert.Equal("--long", Complete("list", "--l"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Zsh_OffersExactlyTheTreesVerbsAndEachVerbsOptions()
    {
        string script = ZshCompletion.Generate(Root);
        string verbs = Regex.Match(script, @"verbs=\(\n(.*?)\n      \)", RegexOptions.Singleline).Groups[1].Value;
        Assert.Equal(Sorted(VerbNames), Sorted(verbs.Split('\n').Select(l => Regex.Match(l, "^        '([^:]+):").Groups[1].Value)));
        string top = script[script.IndexOf("_arguments -C", StringComparison.Ordinal)..script.IndexOf("'1:verb:->verb'", StringComparison.Ordinal)];
        Assert.Equal(SpellingsOf(CommandTree.Options(Root)), Sorted(ZshOptions(top)));
        Dictionary<string, string> arms = Arms(script, ZshArm());
        Assert.Equal(Sorted(VerbNames), Sorted(arms.Keys));
        foreach (Command verb in CommandTree.Verbs(Root))
        {
            Assert.Equal(SpellingsOf(CommandTree.Options(verb)), Sorted(ZshOptions(arms[verb.Name])));
            bool domains = CommandTree.Arguments(verb).Any(a => CommandTree.ValueOf(a).Kind == ValueKind.Domain)
                || CommandTree.Options(verb).Any(o => CommandTree.TakesValue(o) && CommandTree.ValueOf(o).Kind == ValueKind.Domain);
            Assert.Equal(domains, arms[verb.Name].Contains(":_xensharp_domains'", StringComparison.Ordinal));
        }
    }

    [ProgramOnPathFact("zsh")]
    public void Zsh_AcceptsTheScript()
    {
        var r = HostProgram.Run("zsh", ["-n"], ZshCompletion.Generate(Root));
        Assert.True(r.Code == 0 && r.Stderr.Length == 0, r.Stderr);
    }

    [Fact]
    public void Fish_OffersExactlyTheTreesVerbsAndEachVerbsOptions()
    {
        string[] lines = FishCompletion.Generate(Root).Split('\n');
        Assert.Equal(Sorted(VerbNames), Sorted(lines.Select(l => Regex.Match(l, "^complete -c xensharp -n __fish_use_subcommand -a (\\S+) -d ")).Where(m => m.Success).Select(m => m.Groups[1].Value)));
        string[] Options(IEnumerable<string> from) =>
            Sorted(from.SelectMany(l => Regex.Matches(l.Split(" -d '")[0], @" -([ls]) (\S+)").Select(m => (m.Groups[1].Value == "l" ? "--" : "-") + m.Groups[2].Value)));
        Assert.Equal(SpellingsOf(CommandTree.Options(Root)), Options(lines.Where(l => l.StartsWith("complete -c xensharp", StringComparison.Ordinal) && !l.Contains("__fish_seen_subcommand_from", StringComparison.Ordinal))));
        foreach (Command verb in CommandTree.Verbs(Root))
        {
            Assert.Equal(SpellingsOf(verb.Options.Where(o => !o.Hidden)), Options(lines.Where(l => l.Contains($"-n '__fish_seen_subcommand_from {verb.Name}'", StringComparison.Ordinal))));
        }
    }

    [ProgramOnPathFact("fish")]
    public void Fish_AcceptsTheScript()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, FishCompletion.Generate(Root));
            var r = HostProgram.Run("fish", ["--no-config", "-n", path]);
            Assert.True(r.Code == 0 && r.Stderr.Length == 0, r.Stderr);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TheVerb_PrintsTheScriptsAndRefusesAnotherShell()
    {
        foreach ((string shell, string script) in new[] { ("bash", BashCompletion.Generate(Root)), ("zsh", ZshCompletion.Generate(Root)), ("fish", FishCompletion.Generate(Root)) })
        {
            var r = HostProgram.Xensharp("completions", shell);
            Assert.True(r.Code == 0, r.Stderr);
            Assert.Equal(script, r.Stdout);
        }

        var tcsh = HostProgram.Xensharp("completions", "tcsh");
        Assert.Equal(2, tcsh.Code);
        Assert.Contains("tcsh", tcsh.Stderr, StringComparison.Ordinal);
        Assert.Empty(tcsh.Stdout);
    }

    /// <summary>The script's `case` arms by their label, each with its text up to the next arm.</summary>
    private static Dictionary<string, string> Arms(string script, Regex arm)
    {
        MatchCollection matches = arm.Matches(script);
        var arms = new Dictionary<string, string>();
        for (int i = 0; i < matches.Count; i++)
        {
            int end = i + 1 < matches.Count ? matches[i + 1].Index : script.Length;
            arms.Add(matches[i].Groups[1].Value, script[matches[i].Index..end]);
        }

        return arms;
    }

    private static string[] Words(Match m)
    {
        Assert.True(m.Success);
        return m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    private static IEnumerable<string> ZshOptions(string text) =>
        Regex.Matches(text, @"'(--?[A-Za-z0-9][A-Za-z0-9-]*)[=+]?\[").Select(m => m.Groups[1].Value);

    [GeneratedRegex(@"^    ('[^']*'|[A-Za-z0-9*-]+)\)$", RegexOptions.Multiline)]
    private static partial Regex BashArm();

    [GeneratedRegex(@"^        ([A-Za-z0-9-]+)\)$", RegexOptions.Multiline)]
    private static partial Regex ZshArm();
}
