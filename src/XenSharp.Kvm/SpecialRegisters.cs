using System.Runtime.InteropServices;

namespace XenSharp.Kvm;

/// <summary>The system registers of struct kvm_sregs, laid out exactly as its first 280 bytes. The trailing
/// interrupt_bitmap is not carried: KVM_SET_SREGS with an empty bitmap leaves any interrupt KVM already holds queued,
/// whereas copying a stale bitmap back could inject it twice.</summary>
/// <remarks>Start from <see cref="KvmVcpu.GetSpecialRegisters"/> and modify: a zero <see cref="ApicBase"/> written back
/// disables the local APIC, and with it interrupt delivery (MSI kicks).</remarks>
[StructLayout(LayoutKind.Sequential)]
public struct SpecialRegisters
{
    public Segment Cs, Ds, Es, Fs, Gs, Ss, Tr, Ldt;
    public DescriptorTable Gdt, Idt;
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8, Efer, ApicBase;
}
