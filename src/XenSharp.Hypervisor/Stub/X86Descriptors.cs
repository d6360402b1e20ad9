namespace XenSharp.Hypervisor.Stub;

/// <summary>Encodings of the x86-64 descriptors the stub's GDT, TSS and IDT need.</summary>
internal static class X86Descriptors
{
    public const ulong Ring0Code64 = 0x00af9b000000ffff;
    public const ulong Ring0Data = 0x00cf93000000ffff;
    public const ulong Ring3Code32 = 0x00cffb000000ffff;
    public const ulong Ring3Data = 0x00cff3000000ffff;
    public const ulong Ring3Code64 = 0x00affb000000ffff;

    /// <summary>A 64-bit TSS descriptor (two GDT slots), marked busy because TR is loaded by the host through sregs.</summary>
    public static (ulong Low, ulong High) BusyTss(ulong baseAddress, uint limit)
    {
        ulong low = (limit & 0xffffUL)
            | ((baseAddress & 0xffffffUL) << 16)
            | (0xbUL << 40)
            | (1UL << 47)
            | (((ulong)limit >> 16 & 0xf) << 48)
            | (((baseAddress >> 24) & 0xff) << 56);
        return (low, baseAddress >> 32);
    }

    /// <summary>A 64-bit interrupt gate (IF cleared on entry).</summary>
    public static (ulong Low, ulong High) InterruptGate(ulong handler, ushort selector, int dpl)
    {
        ulong low = (handler & 0xffff)
            | ((ulong)selector << 16)
            | ((0xeUL | ((ulong)dpl << 5) | 0x80UL) << 40)
            | (((handler >> 16) & 0xffff) << 48);
        return (low, handler >> 32);
    }
}
