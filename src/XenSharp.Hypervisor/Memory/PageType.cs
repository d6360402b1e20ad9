namespace XenSharp.Hypervisor.Memory;

/// <summary>The use a frame is validated for; a frame's type can change only while its type count is zero.</summary>
internal enum PageType : byte
{
    None = 0,
    Writable,
    L1,
    L2,
    L3,
    L4,
    SegmentDescriptors,
}
