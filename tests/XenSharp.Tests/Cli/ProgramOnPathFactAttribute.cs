using Xunit;

namespace XenSharp.Tests.Cli;

/// <summary>A test that runs a program from PATH (zsh, fish, groff); skipped where there is none, installing nothing.</summary>
public sealed class ProgramOnPathFactAttribute : FactAttribute
{
    public ProgramOnPathFactAttribute(string program)
    {
        if (Find(program) is null)
        {
            Skip = $"no {program} on PATH";
        }
    }

    public static string? Find(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);
}
