namespace XenSharp.Toolstack.Config;

/// <summary>What the toolstack does when a guest powers off, reboots or crashes (xl's <c>on_*</c> settings).</summary>
public enum ShutdownAction
{
    Destroy,
    Restart,
    Preserve,
    RenameRestart,
    CoredumpDestroy,
    CoredumpRestart,
    SoftReset,
}
