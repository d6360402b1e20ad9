using XenSharp.Toolstack.Config;

namespace XenSharp.Toolstack.Daemon;

/// <summary>xl's spelling of an on_* action (libxl_action_on_shutdown), for list -l.</summary>
public static class ActionNames
{
    public static string Of(ShutdownAction action) => action switch
    {
        ShutdownAction.Destroy => "destroy",
        ShutdownAction.Restart => "restart",
        ShutdownAction.Preserve => "preserve",
        ShutdownAction.RenameRestart => "rename-restart",
        ShutdownAction.CoredumpDestroy => "coredump-destroy",
        ShutdownAction.CoredumpRestart => "coredump-restart",
        ShutdownAction.SoftReset => "soft-reset",
        _ => action.ToString().ToLowerInvariant(),
    };
}
