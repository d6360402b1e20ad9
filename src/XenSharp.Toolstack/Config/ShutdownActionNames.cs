namespace XenSharp.Toolstack.Config;

/// <summary>The spellings xl accepts for <see cref="ShutdownAction"/>, matched exactly as xl does.</summary>
internal static class ShutdownActionNames
{
    private static readonly (string Name, ShutdownAction Action)[] Names =
    [
        ("destroy", ShutdownAction.Destroy),
        ("restart", ShutdownAction.Restart),
        ("preserve", ShutdownAction.Preserve),
        ("rename-restart", ShutdownAction.RenameRestart),
        ("coredump-destroy", ShutdownAction.CoredumpDestroy),
        ("coredump-restart", ShutdownAction.CoredumpRestart),
        ("soft-reset", ShutdownAction.SoftReset),
    ];

    /// <summary>"destroy, restart, ..." for error messages.</summary>
    public static string All { get; } = string.Join(", ", Names.Select(n => n.Name));

    public static bool TryParse(string name, out ShutdownAction action)
    {
        foreach (var (candidate, value) in Names)
        {
            if (string.Equals(candidate, name, StringComparison.Ordinal))
            {
                action = value;
                return true;
            }
        }
        action = default;
        return false;
    }
}
