using System.CommandLine;
using System.CommandLine.Parsing;
using XenSharp.Toolstack.Config;

namespace XenSharp.Cli;

/// <summary>
/// What was wrong with a command line, one line per mistake in XenSharp's words: System.CommandLine's own messages
/// name .NET types ("Cannot parse argument 'abc' ... as expected type 'System.Nullable`1[System.Double]'") and come
/// with the whole help text. Errors the options' own parsers add (already "--timeout: ...") are kept as they are.
/// </summary>
public static class ParseErrors
{
    public static IEnumerable<string> Describe(ParseResult parse, RootCommand root)
    {
        CommandResult command = parse.CommandResult;
        string verbs = string.Join(", ", root.Subcommands.Select(c => c.Name));
        bool atRoot = command.Command == root;
        if (atRoot)
        {
            // The words after an unknown verb are its own arguments: naming the verb says it all.
            IReadOnlyList<string> unmatched = parse.UnmatchedTokens;
            yield return unmatched.Count == 0 ? $"no verb given (xensharp has: {verbs})"
                : unmatched[0].StartsWith('-') ? $"unknown option {ConfigText.SingleQuoted(unmatched[0])}"
                : $"unknown verb {ConfigText.SingleQuoted(unmatched[0])} (xensharp has: {verbs})";
            yield break;
        }

        foreach (string token in parse.UnmatchedTokens)
        {
            yield return token.StartsWith('-')
                ? $"unknown option {ConfigText.SingleQuoted(token)} for {command.Command.Name}"
                : $"{command.Command.Name}: unexpected argument {ConfigText.SingleQuoted(token)}";
        }

        foreach (ParseError e in parse.Errors)
        {
            switch (e.SymbolResult)
            {
                case CommandResult:
                    break; // unmatched tokens, described above
                case OptionResult { Tokens.Count: 0 } o:
                    yield return $"{o.Option.Name}: needs a value";
                    break;
                case OptionResult { Tokens.Count: > 1 } o:
                    yield return $"{o.Option.Name}: given more than once";
                    break;
                case ArgumentResult { Tokens.Count: 0 } a:
                    yield return $"{command.Command.Name}: no {a.Argument.Name} given";
                    break;
                default:
                    yield return e.Message.ReplaceLineEndings(" ");
                    break;
            }
        }
    }
}
