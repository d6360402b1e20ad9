using System.Runtime.InteropServices;

namespace XenSharp.Kvm;

/// <summary>A segment register's hidden state. Layout-identical to struct kvm_segment (24 bytes; the last byte is padding).</summary>
[StructLayout(LayoutKind.Sequential, Size = 24)]
public struct Segment
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type, Present, Dpl, Db, S, L, G, Avl;

    /// <summary>KVM's "unusable" flag. Kept so that a get/modify/set round trip does not turn an unusable segment
    /// (VMX reports null selectors that way) into a usable one.</summary>
    public byte Unusable;
}
