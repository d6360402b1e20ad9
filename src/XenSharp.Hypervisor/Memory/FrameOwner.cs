namespace XenSharp.Hypervisor.Memory;

/// <summary>Owner ids in the frame table besides real domain ids (Xen's DOMID_XEN / DOMID_INVALID).</summary>
public static class FrameOwner
{
    public const ushort Xen = 0x7ff2;
    public const ushort Free = 0x7ff4;
}
