using System.Runtime.InteropServices;

namespace XenSharp.Kvm.Native;

/// <summary>struct kvm_userspace_memory_region.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmUserspaceMemoryRegion
{
    public uint Slot;
    public uint Flags;
    public ulong GuestPhysAddr;
    public ulong MemorySize;
    public ulong UserspaceAddr;
}
