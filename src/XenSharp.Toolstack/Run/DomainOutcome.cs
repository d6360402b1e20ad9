namespace XenSharp.Toolstack.Run;

/// <summary>How one configured domain ended in a run, and the process exit status that stands for it.</summary>
public sealed record DomainOutcome(string Name, string Ending, int ExitCode, string Transcript)
{
    public const int Poweroff = 0;
    public const int Crashed = 1;
    public const int UsageError = 2;
    public const int Rebooted = 3;
    public const int Other = 4;
    public const int TimedOut = 124;
}
