using XenSharp.Toolstack.Image;
using Xunit;
using static XenSharp.Tests.Image.XenNotes;

namespace XenSharp.Tests.Image;

public class KernelImageNoteTests
{
    [Fact]
    public void LinuxStyleNotesInPtNoteAreAllRead()
    {
        var xen = ImageAssert.Parses(TestKernels.Linux()).Xen;

        Assert.Equal(TestKernels.LinuxEntry, xen.Entry);
        Assert.Equal(TestKernels.LinuxVirtBase, xen.VirtBase);
        Assert.Equal(0UL, xen.PaddrOffset);
        Assert.Equal(TestKernels.LinuxHypercallPage, xen.HypercallPage);
        Assert.Equal(TestKernels.LinuxInitP2m, xen.InitP2m);
        Assert.Equal("linux", xen.GuestOs);
        Assert.Equal("generic", xen.Loader);
        Assert.Equal("xen-3.0", xen.XenVersion);
        Assert.Equal("2.6", xen.GuestVersion);
        Assert.Equal("yes", xen.PaeMode);
        Assert.Equal((1u << 0) | (1u << 4) | (1u << 11), xen.FeaturesSupported);
        Assert.Equal(1u << 0, xen.FeaturesRequired);
        Assert.True(xen.ModStartPfn);
        Assert.True(xen.SuspendCancel);
        Assert.False(xen.BsdSymtab);
        Assert.False(xen.FromLegacySection);
        Assert.Equal(TestKernels.LinuxText, xen.VirtKernelStart);
        Assert.Equal(TestKernels.LinuxText + 0x6000, xen.VirtKernelEnd);
    }

    [Fact]
    public void OnlyLoadSegmentsAreListed()
    {
        var image = ImageAssert.Parses(TestKernels.Linux());

        Assert.Equal(2, image.LoadSegments.Count);
        var data = image.LoadSegments[1];
        Assert.Equal(TestKernels.LinuxText + 0x3000, data.VirtualAddress);
        Assert.Equal(TestKernels.LinuxTextPhys + 0x3000, data.PhysicalAddress);
        Assert.Equal(0x1000UL, data.FileSize);
        Assert.Equal(0x3000UL, data.MemorySize);
        Assert.Equal(ElfBuilder.PfR | ElfBuilder.PfW, data.Flags);
        Assert.Equal(TestKernels.Pattern(0x1000, 2), image.SegmentFileBytes(data).ToArray());
    }

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    public void NumericNotesMayBeFourOrEightBytes(int size)
    {
        byte[] Num(uint type, ulong value) => size == 4 ? U32(type, (uint)value) : U64(type, value);
        var xen = ImageAssert.Parses(TestKernels.Generic(
            [.. TestKernels.GenericNotes, Num(Entry, 0x100040), Num(HypercallPage, 0x101000), Num(VirtBase, 0), Num(InitP2m, 0x40000000)])).Xen;

        Assert.Equal(0x100040UL, xen.Entry);
        Assert.Equal(0x101000UL, xen.HypercallPage);
        Assert.Equal(0x40000000UL, xen.InitP2m);
    }

    [Theory]
    [InlineData(1, 0x40UL)]
    [InlineData(2, 0x1234UL)]
    public void OneAndTwoByteNumericNotesAreReadAsLibelfDoes(int size, ulong value)
    {
        var desc = BitConverter.GetBytes(value)[..size];
        var xen = ImageAssert.Parses(TestKernels.Generic([.. TestKernels.GenericNotes, Note("Xen", InitP2m, desc)])).Xen;

        Assert.Equal(value, xen.InitP2m);
    }

    [Fact]
    public void AbsentNotesTakeLibelfDefaults()
    {
        var xen = ImageAssert.Parses(TestKernels.Generic(TestKernels.GenericNotes)).Xen;

        Assert.Equal(TestKernels.GenericStart, xen.Entry);
        Assert.Equal(0UL, xen.VirtBase);
        Assert.Equal(0UL, xen.PaddrOffset);
        Assert.Null(xen.HypercallPage);
        Assert.Null(xen.InitP2m);
        Assert.Null(xen.GuestVersion);
        Assert.Null(xen.PaeMode);
        Assert.Equal(0u, xen.FeaturesSupported);
        Assert.Equal(0u, xen.FeaturesRequired);
        Assert.False(xen.ModStartPfn);
        Assert.False(xen.SuspendCancel);
        Assert.False(xen.BsdSymtab);
        Assert.Equal(TestKernels.GenericStart, xen.VirtKernelStart);
        Assert.Equal(TestKernels.GenericStart + TestKernels.GenericMemSize, xen.VirtKernelEnd);
    }

    [Fact]
    public void NotesInShtNoteSectionAreUsedWhenNoSegmentHasXenNotes()
    {
        var builder = TestKernels.Generic()
            .AddNoteSegment(Note("GNU", 3, [1, 2, 3, 4]))
            .AddSection(".note.Xen", ElfBuilder.ShtNote, Join([.. TestKernels.GenericNotes, Str(GuestVersion, "from-section")]));

        var xen = ImageAssert.Parses(builder).Xen;

        Assert.Equal("from-section", xen.GuestVersion);
        Assert.False(xen.FromLegacySection);
    }

    [Fact]
    public void SectionNotesAreIgnoredWhenSegmentHasXenNotes()
    {
        var builder = TestKernels.Generic([.. TestKernels.GenericNotes, Str(GuestVersion, "segment")])
            .AddSection(".note.Xen", ElfBuilder.ShtNote, Join([.. TestKernels.GenericNotes, Str(GuestVersion, "section")]));

        Assert.Equal("segment", ImageAssert.Parses(builder).Xen.GuestVersion);
    }

    [Fact]
    public void NoteSegmentAtFileOffsetZeroIsSkipped()
    {
        // binutils bug workaround in libelf: such a segment would point at the ELF header.
        var built = TestKernels.Generic([.. TestKernels.GenericNotes, Str(GuestVersion, "segment")])
            .AddSection(".note.Xen", ElfBuilder.ShtNote, Join([.. TestKernels.GenericNotes, Str(GuestVersion, "section")]))
            .Build();
        built.Put64(BuiltElf.ProgramHeaderAt(1) + 8, 0);

        Assert.Equal("section", KernelImage.Parse(built.Bytes, "k").Xen.GuestVersion);
    }

    [Fact]
    public void NotesWithOtherOwnersAndUnknownTypesAreIgnored()
    {
        var xen = ImageAssert.Parses(TestKernels.Generic(
            Note("Linux", GuestOs, "evil\0"u8.ToArray()),
            Note("Xen2", XenVersion, "xen-9\0"u8.ToArray()),
            Note("Xe", Loader, "x\0"u8.ToArray()),
            Note("Xen", 0x99, [1, 2, 3]),
            Note("Xen", Phys32Entry, [1, 2, 3]),
            Note("", 0, []),
            Str(Loader, "generic"),
            Str(XenVersion, "xen-3.0"),
            Str(GuestOs, "Mini-OS"))).Xen;

        Assert.Equal("Mini-OS", xen.GuestOs);
        Assert.Equal("xen-3.0", xen.XenVersion);
        Assert.Equal("generic", xen.Loader);
    }

    [Fact]
    public void LaterNoteOverridesEarlier()
    {
        var xen = ImageAssert.Parses(TestKernels.Generic(
            [.. TestKernels.GenericNotes, Str(GuestOs, "first"), Str(GuestOs, "second")])).Xen;

        Assert.Equal("second", xen.GuestOs);
    }

    [Fact]
    public void StringNoteWithoutTerminatorIsAccepted()
    {
        var xen = ImageAssert.Parses(TestKernels.Generic(
            [.. TestKernels.GenericNotes, Note("Xen", GuestVersion, "4.19"u8.ToArray())])).Xen;

        Assert.Equal("4.19", xen.GuestVersion);
    }

    [Fact]
    public void NotesSpreadOverSeveralNoteSegmentsAreCombined()
    {
        var builder = TestKernels.Generic(Str(Loader, "generic"), Str(XenVersion, "xen-3.0"))
            .AddNoteSegment(Join(Str(GuestOs, "Mini-OS"), U64(HypercallPage, 0x101000)));

        var xen = ImageAssert.Parses(builder).Xen;

        Assert.Equal("Mini-OS", xen.GuestOs);
        Assert.Equal(0x101000UL, xen.HypercallPage);
    }

    [Fact]
    public void FeatureStringAndSupportedFeaturesCombine()
    {
        var xen = ImageAssert.Parses(TestKernels.Generic([.. TestKernels.GenericNotes,
            Str(Features, "writable_descriptor_tables|!pae_pgdir_above_4gb|no_such_feature||hvm_callback_vector"),
            U32(SupportedFeatures, 1u << 13)])).Xen;

        Assert.Equal((1u << 1) | (1u << 4) | (1u << 8) | (1u << 13), xen.FeaturesSupported);
        Assert.Equal(1u << 4, xen.FeaturesRequired);
    }

    [Fact]
    public void OptionalDom0AndAutotranslateAreAccepted()
    {
        var xen = ImageAssert.Parses(TestKernels.Generic(
            [.. TestKernels.GenericNotes, Str(Features, "dom0|auto_translated_physmap|supervisor_mode_kernel")])).Xen;

        Assert.Equal((1u << 11) | (1u << 2) | (1u << 3), xen.FeaturesSupported);
        Assert.Equal(0u, xen.FeaturesRequired);
    }

    [Theory]
    [InlineData("yes", true)]
    [InlineData("no", false)]
    public void BsdSymtabNoteMeansYesOnlyForYes(string value, bool expected)
    {
        var xen = ImageAssert.Parses(TestKernels.Generic([.. TestKernels.GenericNotes, Str(BsdSymtab, value)])).Xen;

        Assert.Equal(expected, xen.BsdSymtab);
    }

    [Theory]
    [InlineData("generic", "")]
    [InlineData("generic-with-suffix", "Anything")]
    [InlineData("", "linux")]
    [InlineData("other", "linux-custom")]
    public void GenericLoaderOrLinuxGuestIsAccepted(string loader, string guestOs)
    {
        var notes = new List<byte[]> { Str(XenVersion, "xen-3.0-x86_64") };
        if (loader.Length > 0)
            notes.Add(Str(Loader, loader));
        if (guestOs.Length > 0)
            notes.Add(Str(GuestOs, guestOs));

        var xen = ImageAssert.Parses(TestKernels.Generic(notes)).Xen;

        Assert.Equal(loader, xen.Loader);
        Assert.Equal(guestOs, xen.GuestOs);
    }
}
