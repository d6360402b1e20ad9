using System.Runtime.InteropServices;

namespace XenSharp.Kvm.Native;

/// <summary>struct kvm_msr_entry (16 bytes); the array follows an 8-byte struct kvm_msrs header { nmsrs, pad }.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmMsrEntry
{
    public uint Index;
    public uint Reserved;
    public ulong Data;
}
