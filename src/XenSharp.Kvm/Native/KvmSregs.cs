using System.Runtime.InteropServices;

namespace XenSharp.Kvm.Native;

/// <summary>struct kvm_sregs: our <see cref="SpecialRegisters"/> followed by interrupt_bitmap[4].</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmSregs
{
    public SpecialRegisters Registers;
    public fixed ulong InterruptBitmap[4];
}
