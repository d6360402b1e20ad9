namespace XenSharp.Hypervisor.Memory;

/// <summary>One frame-table entry. RefCount counts every reference (mappings, pins, hypervisor use); TypeCount counts references that need Type.</summary>
public struct FrameInfo
{
    public ushort Owner;
    public PageType Type;
    public bool Pinned;
    public uint TypeCount;
    public uint RefCount;

    public readonly bool IsFree => Owner == FrameOwner.Free;
}
