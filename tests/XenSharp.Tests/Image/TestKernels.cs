using static XenSharp.Tests.Image.XenNotes;

namespace XenSharp.Tests.Image;

/// <summary>Ready-made kernels: an XTF/Mini-OS style one linked low with VIRT_BASE 0, and a Linux 6.1 style one.</summary>
internal static class TestKernels
{
    public const ulong GenericStart = 0x100000;
    public const int GenericFileSize = 0x2000;
    public const ulong GenericMemSize = 0x3000;

    public const ulong LinuxVirtBase = 0xffffffff80000000;
    public const ulong LinuxText = 0xffffffff81000000;
    public const ulong LinuxTextPhys = 0x1000000;
    public const ulong LinuxEntry = LinuxText + 0x40;
    public const ulong LinuxHypercallPage = LinuxText + 0x1000;
    public const ulong LinuxInitP2m = 0x8000000000;

    /// <summary>The notes every generic-loader kernel needs to be accepted.</summary>
    public static byte[][] GenericNotes =>
    [
        Str(Loader, "generic"),
        Str(XenVersion, "xen-3.0"),
        Str(GuestOs, "XTF"),
    ];

    public static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        for (int i = 0; i < data.Length; i++)
            data[i] = (byte)(i * 7 + seed + 1);
        return data;
    }

    /// <summary>One R+X segment at 0x100000 (0x2000 file bytes, 0x3000 in memory) and a PT_NOTE holding <paramref name="notes"/>.</summary>
    public static ElfBuilder Generic(params IEnumerable<byte[]> notes)
    {
        var builder = new ElfBuilder { Entry = GenericStart }
            .AddLoad(GenericStart, GenericStart, Pattern(GenericFileSize, 0), GenericMemSize);
        byte[] noteBytes = Join(notes);
        return noteBytes.Length > 0 ? builder.AddNoteSegment(noteBytes) : builder;
    }

    public static byte[][] LinuxNotes =>
    [
        Str(GuestOs, "linux"),
        Str(GuestVersion, "2.6"),
        Str(XenVersion, "xen-3.0"),
        U64(VirtBase, LinuxVirtBase),
        U64(Entry, LinuxEntry),
        U64(HypercallPage, LinuxHypercallPage),
        U64(InitP2m, LinuxInitP2m),
        Str(Features, "!writable_page_tables|pae_pgdir_above_4gb"),
        U32(SupportedFeatures, (1u << 0) | (1u << 11)),
        Str(PaeMode, "yes"),
        Str(Loader, "generic"),
        Note("Xen", L1MfnValid, Enumerable.Repeat((byte)0, 15).Prepend((byte)1).ToArray()),
        U32(SuspendCancel, 1),
        U32(ModStartPfn, 1),
        U64(HvStartLow, 0xffff800000000000),
        U64(PaddrOffset, 0),
    ];

    /// <summary>Text at 0xffffffff81000000 (phys 0x1000000), data+bss after it, Linux 6.1 style notes.</summary>
    public static ElfBuilder Linux(params IEnumerable<byte[]> notes) =>
        new ElfBuilder { Entry = LinuxText }
            .AddLoad(LinuxText, LinuxTextPhys, Pattern(0x3000, 1), 0x3000)
            .AddLoad(LinuxText + 0x3000, LinuxTextPhys + 0x3000, Pattern(0x1000, 2), 0x3000, ElfBuilder.PfR | ElfBuilder.PfW)
            .AddNoteSegment(Join(notes));

    public static ElfBuilder Linux() => Linux(LinuxNotes);
}
