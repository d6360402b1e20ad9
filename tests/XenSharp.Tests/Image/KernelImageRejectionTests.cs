using Xunit;
using static XenSharp.Tests.Image.XenNotes;

namespace XenSharp.Tests.Image;

/// <summary>Every reason libelf or the PV domU builder refuses a well-formed ELF.</summary>
public class KernelImageRejectionTests
{
    private static ElfBuilder GenericWith(params byte[][] extra) => TestKernels.Generic([.. TestKernels.GenericNotes, .. extra]);

    [Fact]
    public void NonElfIsRejected()
    {
        Assert.Equal("not an ELF file", ImageAssert.Fails("MZ\x90\0 this is a PE file, not ELF................................"u8.ToArray()));
        Assert.Equal("not an ELF file", ImageAssert.Fails([0x7F, (byte)'E', (byte)'L', (byte)'G', 2, 1, 1]));
    }

    [Fact]
    public void ThirtyTwoBitX86IsRejected()
    {
        var builder = TestKernels.Generic(TestKernels.GenericNotes);
        builder.Class = 1;
        builder.Machine = 3;

        Assert.Equal("not a 64-bit x86 ELF (class 1, machine 3)", ImageAssert.Fails(builder));
    }

    [Fact]
    public void OtherMachineIsRejected()
    {
        var builder = TestKernels.Generic(TestKernels.GenericNotes);
        builder.Machine = 183;

        Assert.Equal("not a 64-bit x86 ELF (class 2, machine 183)", ImageAssert.Fails(builder));
    }

    [Fact]
    public void BigEndianIsRejected()
    {
        var builder = TestKernels.Generic(TestKernels.GenericNotes);
        builder.Data = 2;

        Assert.Equal("not a little-endian ELF (data encoding 2)", ImageAssert.Fails(builder));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public void NonExecutableIsRejected(ushort type)
    {
        var builder = TestKernels.Generic(TestKernels.GenericNotes);
        builder.Type = type;

        Assert.Equal($"not an executable ELF (e_type {type})", ImageAssert.Fails(builder));
    }

    [Fact]
    public void ElfWithoutXenInformationIsRejected()
    {
        const string expected = "no Xen ELF notes and no __xen_guest section: not a Xen PV kernel";
        Assert.Equal(expected, ImageAssert.Fails(TestKernels.Generic()));
        Assert.Equal(expected, ImageAssert.Fails(TestKernels.Generic(Note("GNU", 1, [0, 0, 0, 0]))));
        Assert.Equal(expected, ImageAssert.Fails(TestKernels.Generic().AddSection(".text", ElfBuilder.ShtProgbits, [1])));
    }

    [Fact]
    public void EntryMustBeInsideImage()
    {
        ulong end = TestKernels.GenericStart + TestKernels.GenericMemSize;
        Assert.Equal($"entry 0x{end:x} outside the loaded image 0x100000-0x{end:x}", ImageAssert.Fails(GenericWith(U64(Entry, end))));
        Assert.StartsWith("entry 0xfffff outside", ImageAssert.Fails(GenericWith(U64(Entry, 0xfffff))));

        var header = TestKernels.Generic(TestKernels.GenericNotes);
        header.Entry = 0x200000;
        Assert.StartsWith("entry 0x200000 outside the loaded image", ImageAssert.Fails(header));
    }

    [Fact]
    public void VirtBaseMustNotExceedImageStart()
    {
        Assert.Equal("VIRT_BASE 0x100001 is above the start of the loaded image 0x100000",
            ImageAssert.Fails(GenericWith(U64(VirtBase, 0x100001), U64(PaddrOffset, 0x100001))));
    }

    [Fact]
    public void PaddrOffsetNeedsVirtBase()
    {
        Assert.Equal("PADDR_OFFSET is set but VIRT_BASE is not", ImageAssert.Fails(GenericWith(U64(PaddrOffset, 0))));
    }

    [Fact]
    public void HypercallPageMustBeAlignedAndInsideImage()
    {
        Assert.Equal("hypercall page 0x101800 is not page-aligned", ImageAssert.Fails(GenericWith(U64(HypercallPage, 0x101800))));
        Assert.Equal("hypercall page 0x103000 outside the loaded image 0x100000-0x103000", ImageAssert.Fails(GenericWith(U64(HypercallPage, 0x103000))));
        Assert.StartsWith("hypercall page 0xff000 outside", ImageAssert.Fails(GenericWith(U64(HypercallPage, 0xff000))));
    }

    [Fact]
    public void InitP2mMustNotOverlapImage()
    {
        Assert.Equal("INIT_P2M 0x102000 lies inside the loaded image 0x100000-0x103000", ImageAssert.Fails(GenericWith(U64(InitP2m, 0x102000))));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("xen-2.0")]
    [InlineData("xen-3")]
    [InlineData("XEN-3.0")]
    public void XenVersionMustStartWithXen30(string? version)
    {
        var notes = new List<byte[]> { Str(Loader, "generic") };
        if (version is not null)
            notes.Add(Str(XenVersion, version));

        Assert.Equal($"kernel is not built for Xen 3.0 ABI (XEN_VERSION '{version}', expected 'xen-3.0...')",
            ImageAssert.Fails(TestKernels.Generic(notes)));
    }

    [Theory]
    [InlineData("", "Mini-OS")]
    [InlineData("custom", "")]
    [InlineData("Generic", "Linux")]
    [InlineData("", "")]
    public void LoaderMustBeGenericOrGuestLinux(string loader, string guestOs)
    {
        var notes = new List<byte[]> { Str(XenVersion, "xen-3.0") };
        if (loader.Length > 0)
            notes.Add(Str(Loader, loader));
        if (guestOs.Length > 0)
            notes.Add(Str(GuestOs, guestOs));

        Assert.Equal($"only kernels for the generic loader or Linux can be loaded (LOADER '{loader}', GUEST_OS '{guestOs}')",
            ImageAssert.Fails(TestKernels.Generic(notes)));
    }

    [Theory]
    [InlineData("!frobnicate")]
    [InlineData("pae_pgdir_above_4gb|!")]
    [InlineData("!mmu_pt_update_preserve_ad")]
    public void UnknownRequiredFeatureIsRejected(string features)
    {
        string token = features.Split('|')[^1];
        Assert.Equal($"kernel requires unknown feature '{token}'", ImageAssert.Fails(GenericWith(Str(Features, features))));
    }

    [Fact]
    public void RequiredAutotranslateIsRejected()
    {
        Assert.Equal("PV autotranslate guests are not supported (kernel requires auto_translated_physmap)",
            ImageAssert.Fails(GenericWith(Str(Features, "writable_page_tables|!auto_translated_physmap"))));
    }

    [Fact]
    public void RequiredDom0IsRejectedForDomU()
    {
        Assert.Equal("kernel requires dom0 and cannot run as an unprivileged domU", ImageAssert.Fails(GenericWith(Str(Features, "!dom0"))));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(16)]
    public void NumericNoteOfOddSizeIsRejected(int size)
    {
        Assert.Equal($"Xen note ENTRY has a {size}-byte value (expected 1, 2, 4 or 8 bytes)",
            ImageAssert.Fails(GenericWith(Note("Xen", Entry, new byte[size]))));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(6)]
    public void SupportedFeaturesOfOddSizeIsRejected(int size)
    {
        Assert.Equal($"Xen note SUPPORTED_FEATURES has {size} bytes (expected a multiple of 4)",
            ImageAssert.Fails(GenericWith(Note("Xen", SupportedFeatures, new byte[size]))));
    }

    [Fact]
    public void OverlongStringNoteIsRejected()
    {
        Assert.Equal("Xen note GUEST_VERSION is longer than 4096 bytes", ImageAssert.Fails(GenericWith(Str(GuestVersion, new string('v', 4097)))));
    }

    [Fact]
    public void ImageWithoutLoadSegmentsIsRejected()
    {
        var builder = new ElfBuilder { Entry = 0x100000 }.AddNoteSegment(Join(TestKernels.GenericNotes));

        Assert.Equal("no loadable (PT_LOAD) segments", ImageAssert.Fails(builder));
    }

    [Fact]
    public void HugeBssIsRejected()
    {
        var builder = new ElfBuilder { Entry = 0x100000 }
            .AddLoad(0x100000, 0x100000, [1], 0x40001000)
            .AddNoteSegment(Join(TestKernels.GenericNotes));

        Assert.Equal("loaded image is 0x40001000 bytes, more than the 0x40000000 allowed", ImageAssert.Fails(builder));
    }

    [Fact]
    public void SegmentsCopiedMoreThanTwiceAreRejected()
    {
        var builder = new ElfBuilder { Entry = 0x100000 }
            .AddLoad(0x100000, 0x100000, [1], 0x1000)
            .AddLoad(0x100000, 0x100000, [2], 0x1000)
            .AddLoad(0x100000, 0x100000, [3], 0x1000)
            .AddNoteSegment(Join(TestKernels.GenericNotes));

        Assert.Equal("loadable segments total more than twice the image size", ImageAssert.Fails(builder));
    }

    [Fact]
    public void SegmentWrappingAddressSpaceIsRejected()
    {
        var builder = new ElfBuilder { Entry = 0xfffffffffffff000 }
            .AddLoad(0xfffffffffffff000, 0xfffffffffffff000, [1], 0x2000)
            .AddNoteSegment(Join(TestKernels.GenericNotes));

        Assert.Equal("segment 0: physical address 0xfffffffffffff000 + size 0x2000 wraps around", ImageAssert.Fails(builder));
    }

    [Fact]
    public void ImageWrappedByVirtBaseIsRejected()
    {
        // paddr 0xfffff000.. plus VIRT_BASE pushes the end past 2^64 while the start stays below.
        var builder = new ElfBuilder { Entry = 0xfffffffffffff000 }
            .AddLoad(0, 0x1000, [1], 0x2000)
            .AddNoteSegment(Join([.. TestKernels.GenericNotes, U64(VirtBase, 0xffffffffffffe000)]));

        Assert.Equal("loaded image 0xfffffffffffff000-0x1000 wraps around the top of the address space", ImageAssert.Fails(builder));
    }
}
