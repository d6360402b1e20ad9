using System.Runtime.InteropServices;

namespace XenSharp.Kvm.Native;

/// <summary>struct kvm_msi (32 bytes; the tail is pad[12]).</summary>
[StructLayout(LayoutKind.Sequential, Size = 32)]
internal struct KvmMsi
{
    public uint AddressLo;
    public uint AddressHi;
    public uint Data;
    public uint Flags;
    public uint DevId;
}
