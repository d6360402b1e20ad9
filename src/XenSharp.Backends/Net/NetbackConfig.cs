namespace XenSharp.Backends.Net;

/// <summary>
/// Everything a xenbus layer hands netback to connect one VIF: the frontend domain, the VIF's handle (vif/N), the
/// negotiated features and one <see cref="NetbackQueueConfig"/> per queue (multi-queue-num-queues of them).
/// </summary>
public sealed record NetbackConfig(ushort FrontendDomid, int Handle, NetbackFeatures Features, IReadOnlyList<NetbackQueueConfig> Queues)
{
    /// <summary>The most queues a VIF takes (what a backend would write as multi-queue-max-queues).</summary>
    public const int MaxQueues = 8;

    public string Name => $"vif{FrontendDomid}.{Handle}";
}
