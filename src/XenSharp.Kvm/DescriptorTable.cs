using System.Runtime.InteropServices;

namespace XenSharp.Kvm;

/// <summary>GDTR/IDTR. Layout-identical to struct kvm_dtable (16 bytes, the tail is padding).</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
public struct DescriptorTable
{
    public ulong Base;
    public ushort Limit;
}
