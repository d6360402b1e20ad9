namespace XenSharp.Hypervisor.Memory;

/// <summary>The pool has no free run of the size asked for.</summary>
public sealed class OutOfPoolException(ulong frames)
    : Exception($"the machine pool has no free run of {frames} frames ({frames * 4 / 1024} MiB)")
{
    public ulong Frames { get; } = frames;
}
