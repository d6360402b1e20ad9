using System.Runtime.InteropServices;

namespace XenSharp.Kvm.Native;

/// <summary>struct kvm_cpuid_entry2 (40 bytes); the array follows an 8-byte struct kvm_cpuid2 header { nent, padding }.</summary>
[StructLayout(LayoutKind.Sequential, Size = 40)]
internal struct KvmCpuidEntry2
{
    public uint Function;
    public uint Index;
    public uint Flags;
    public uint Eax;
    public uint Ebx;
    public uint Ecx;
    public uint Edx;
}
