using System.CommandLine;

namespace XenSharp.Cli.Reference;

/// <summary>`xensharp completions bash|zsh|fish`: prints the shell's completion script, built from the command tree.</summary>
public static class CompletionsVerb
{
    public static Command Create()
    {
        var shell = new Argument<string>("shell") { Description = "The shell: bash, zsh or fish" };
        shell.AcceptOnlyFromAmong("bash", "zsh", "fish");
        var cmd = new Command("completions", "Print a shell completion script (bash, zsh or fish) for xensharp's verbs, options and domain names");
        cmd.Arguments.Add(shell);
        cmd.SetAction(r =>
        {
            Command root = r.RootCommandResult.Command;
            Console.Out.Write(r.GetValue(shell) switch
            {
                "zsh" => ZshCompletion.Generate(root),
                "fish" => FishCompletion.Generate(root),
                _ => BashCompletion.Generate(root),
            });
            return 0;
        });
        return cmd;
    }
}
