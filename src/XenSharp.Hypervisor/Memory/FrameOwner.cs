namespace XenSharp.Hypervisor.Memory;

/// <summary>Owner ids in the frame table besides real domain ids (Xen's DOMID_XEN / DOMID_INVALID).</summary>
internal static class FrameOwner
{
    public const ushort Xen = 0x7ff2;
    public const ushort Free = 0x7ff4;

    /// <summary>
    /// A frame whose owner was destroyed while another domain still mapped it through a grant: kept, contents and all,
    /// until the last such mapping goes (Xen keeps a dying domain's pages the same way), then freed.
    /// </summary>
    public const ushort Orphaned = 0x7ff5;
}
