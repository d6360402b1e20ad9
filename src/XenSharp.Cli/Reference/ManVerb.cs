using System.CommandLine;

namespace XenSharp.Cli.Reference;

/// <summary>`xensharp man`: prints xensharp(1), built from the command tree (`xensharp man | man -l -`).</summary>
public static class ManVerb
{
    public static Command Create()
    {
        var cmd = new Command("man", "Print the manual page, xensharp(1), in roff (read it with: xensharp man | man -l -)");
        cmd.SetAction(r =>
        {
            Console.Out.Write(ManPage.Generate(r.RootCommandResult.Command, XenSharpCommand.Version));
            return 0;
        });
        return cmd;
    }
}
