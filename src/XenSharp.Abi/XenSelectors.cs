namespace XenSharp.Abi;

/// <summary>Xen's reserved GDT selectors for 64-bit PV guests (arch-x86/xen-x86_64.h, desc.h).</summary>
public static class XenSelectors
{
    public const ushort HypervisorCs64 = 0xe008;
    public const ushort HypervisorDs = 0xe010;
    public const ushort FlatRing3Cs32 = 0xe023;
    public const ushort FlatRing3Ds = 0xe02b;
    public const ushort FlatRing3Cs64 = 0xe033;
    public const ushort Tss = 0xe040;
    public const ushort Ldt = 0xe050;
    public const ushort FlatKernelCs = FlatRing3Cs64;
    public const ushort FlatKernelSs = FlatRing3Ds;
    public const ushort FlatKernelDs = 0;

    /// <summary>Guest GDTs may use entries below this one; page 14 onward is the hypervisor's.</summary>
    public const int FirstReservedGdtEntry = 7168;
    public const int FirstReservedGdtByte = 0xe000;
}
