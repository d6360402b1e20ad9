namespace XenSharp.Hypervisor.Memory;

/// <summary>
/// One frame-table entry. RefCount counts every reference (mappings, pins, hypervisor use); TypeCount counts references
/// that need Type; ForeignRefs counts the references among RefCount that other domains' grant mappings hold, which
/// keep the frame out of the allocator even after its owner is destroyed (see <see cref="MachinePool.Free"/>).
/// </summary>
internal struct FrameInfo
{
    public ushort Owner;
    public PageType Type;
    public bool Pinned;
    public uint TypeCount;
    public uint RefCount;
    public uint ForeignRefs;

    public readonly bool IsFree => Owner == FrameOwner.Free;
}
