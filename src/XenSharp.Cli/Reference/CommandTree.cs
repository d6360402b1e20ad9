using System.CommandLine;
using System.CommandLine.Completions;
using System.Text.RegularExpressions;

namespace XenSharp.Cli.Reference;

/// <summary>
/// The command tree as the completion scripts and the man page read it: the visible verbs in the order they were
/// added, each with its options (its own, then those an ancestor passes down: --socket, --help), its arguments, and
/// what may be typed for a value. Everything they print comes from here, so a verb or an option added to the tree is
/// in both without further work.
/// </summary>
public static partial class CommandTree
{
    /// <summary>The program's name in the scripts and the page (the root command's own name is the host process's).</summary>
    public const string Program = "xensharp";

    /// <summary>The verbs (top-level commands) that are not hidden.</summary>
    public static IEnumerable<Command> Verbs(Command root) => root.Subcommands.Where(c => !c.Hidden);

    /// <summary>The visible options of <paramref name="command"/>: its own, then the recursive ones of its ancestors.</summary>
    public static IReadOnlyList<Option> Options(Command command)
    {
        var options = new List<Option>(command.Options.Where(o => !o.Hidden));
        for (Command? parent = Parent(command); parent is not null; parent = Parent(parent))
        {
            options.AddRange(parent.Options.Where(o => o.Recursive && !o.Hidden && !options.Contains(o)));
        }

        return options;
    }

    /// <summary>The visible arguments of <paramref name="command"/>, in order.</summary>
    public static IReadOnlyList<Argument> Arguments(Command command) => [.. command.Arguments.Where(a => !a.Hidden)];

    /// <summary>An option's name and aliases as typed in a Unix shell (the DOS-style /h and /? and -? left out).</summary>
    public static IReadOnlyList<string> Spellings(Option option) =>
        [.. new[] { option.Name }.Concat(option.Aliases).Where(s => ShellWord().IsMatch(s)).Distinct()];

    /// <summary>Whether the option is followed by a value (every option but a flag).</summary>
    public static bool TakesValue(Option option) => option.ValueType != typeof(bool) && option.Arity.MaximumNumberOfValues > 0;

    /// <summary>The placeholder of an option's value in the man page: its help name, else its name in capitals.</summary>
    public static string ValueName(Option option) => option.HelpName ?? option.Name.TrimStart('-').ToUpperInvariant();

    /// <summary>The placeholder of an argument: DOMAIN, [DOMAIN...], CONFIG..., KEY=VALUE...</summary>
    public static string Placeholder(Argument argument)
    {
        string name = (argument.HelpName ?? argument.Name).ToUpperInvariant();
        string many = argument.Arity.MaximumNumberOfValues > 1 ? "..." : "";
        return argument.Arity.MinimumNumberOfValues == 0 ? $"[{name}{many}]" : name + many;
    }

    /// <summary>What to offer for an option's value.</summary>
    public static ValueCompletion ValueOf(Option option)
    {
        if (option.Name == "--domain")
        {
            return ValueCompletion.Of(ValueKind.Domain);
        }

        string[] choices = [.. option.GetCompletions(CompletionContext.Empty).Select(c => c.Label)];
        if (choices.Length > 0)
        {
            return new ValueCompletion(ValueKind.Choice, choices);
        }

        return option.ValueType != typeof(string) ? ValueCompletion.Of(ValueKind.None)
            : option.Name == "--group" ? ValueCompletion.Of(ValueKind.Group)
            : ValueCompletion.Of(ValueKind.File);
    }

    /// <summary>What to offer for an argument: domain names for DOMAIN, files for CONFIG, the choices of one that has them.</summary>
    public static ValueCompletion ValueOf(Argument argument)
    {
        if (argument.Name == "domain")
        {
            return ValueCompletion.Of(ValueKind.Domain);
        }

        if (argument.Name == "config")
        {
            return ValueCompletion.Of(ValueKind.File);
        }

        string[] choices = [.. argument.GetCompletions(CompletionContext.Empty).Select(c => c.Label)];
        return choices.Length > 0 ? new ValueCompletion(ValueKind.Choice, choices) : ValueCompletion.Of(ValueKind.None);
    }

    private static Command? Parent(Command command) => command.Parents.OfType<Command>().FirstOrDefault();

    [GeneratedRegex("^--?[A-Za-z0-9][A-Za-z0-9-]*$")]
    private static partial Regex ShellWord();
}
