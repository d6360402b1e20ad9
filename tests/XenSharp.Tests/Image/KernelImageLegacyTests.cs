using System.Text;
using XenSharp.Toolstack.Image;
using Xunit;
using static XenSharp.Tests.Image.XenNotes;

namespace XenSharp.Tests.Image;

public class KernelImageLegacyTests
{
    private const ulong Base = 0xffffffff80000000;

    private static ElfBuilder Legacy(string guestString, ulong physStart = Base + 0x100000, ulong entry = Base + 0x100000) =>
        new ElfBuilder { Entry = entry }
            .AddLoad(Base + 0x100000, physStart, TestKernels.Pattern(0x2000, 5), 0x3000)
            .AddSection("__xen_guest", ElfBuilder.ShtProgbits, Encoding.ASCII.GetBytes(guestString + "\0"));

    [Fact]
    public void LegacyStringIsParsed()
    {
        var xen = ImageAssert.Parses(Legacy(
            "GUEST_OS=linux,GUEST_VER=2.6,XEN_VER=xen-3.0,VIRT_BASE=0xffffffff80000000,"
            + "HYPERCALL_PAGE=0x101,LOADER=generic,FEATURES=!writable_page_tables|pae_pgdir_above_4gb,PAE=yes[extended-cr3],BSD_SYMTAB")).Xen;

        Assert.True(xen.FromLegacySection);
        Assert.Equal("linux", xen.GuestOs);
        Assert.Equal("2.6", xen.GuestVersion);
        Assert.Equal("xen-3.0", xen.XenVersion);
        Assert.Equal("generic", xen.Loader);
        Assert.Equal("yes[extended-cr3]", xen.PaeMode);
        Assert.True(xen.BsdSymtab);
        Assert.Equal(Base, xen.VirtBase);
        Assert.Equal((0x101UL << 12) + Base, xen.HypercallPage);
        Assert.Equal((1u << 0) | (1u << 4), xen.FeaturesSupported);
        Assert.Equal(1u << 0, xen.FeaturesRequired);
        Assert.Equal(Base + 0x100000, xen.Entry);
    }

    [Fact]
    public void LegacyPaddrOffsetDefaultsToVirtBase()
    {
        // Legacy kernels wrote the virtual address into p_paddr.
        var xen = ImageAssert.Parses(Legacy("GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0xffffffff80000000")).Xen;

        Assert.Equal(Base, xen.PaddrOffset);
        Assert.Equal(Base + 0x100000, xen.VirtKernelStart);
        Assert.Equal(Base + 0x103000, xen.VirtKernelEnd);
    }

    [Fact]
    public void LegacyExplicitPaddrOffsetIsUsed()
    {
        var xen = ImageAssert.Parses(Legacy(
            "GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0xffffffff80000000,ELF_PADDR_OFFSET=0", physStart: 0x100000)).Xen;

        Assert.Equal(0UL, xen.PaddrOffset);
        Assert.Equal(Base + 0x100000, xen.VirtKernelStart);
    }

    [Fact]
    public void LegacyNumbersFollowStrtoull()
    {
        // 0x..., leading-0 octal and decimal all appear in the wild; strtoull stops at junk.
        var xen = ImageAssert.Parses(new ElfBuilder { Entry = 0 }
            .AddLoad(0x100000, 0x100000, [1], 0x3000)
            .AddSection("__xen_guest", ElfBuilder.ShtProgbits,
                "LOADER=generic,XEN_VER=xen-3.0,VIRT_BASE=0,ELF_PADDR_OFFSET=00,VIRT_ENTRY=1048592junk,HYPERCALL_PAGE=0401\0"u8.ToArray())).Xen;

        Assert.Equal(1048592UL, xen.Entry);
        Assert.Equal(0x101000UL, xen.HypercallPage);
    }

    [Fact]
    public void LegacyHypercallPageWithoutVirtBaseIsAPageNumber()
    {
        var xen = ImageAssert.Parses(new ElfBuilder { Entry = 0x100000 }
            .AddLoad(0x100000, 0x100000, [1], 0x3000)
            .AddSection("__xen_guest", ElfBuilder.ShtProgbits, "LOADER=generic,XEN_VER=xen-3.0,HYPERCALL_PAGE=0x102\0"u8.ToArray())).Xen;

        Assert.Equal(0x102000UL, xen.HypercallPage);
        Assert.Equal(0UL, xen.VirtBase);
        Assert.Equal(0UL, xen.PaddrOffset);
    }

    [Fact]
    public void LegacySectionIsIgnoredWhenNotesExist()
    {
        var builder = TestKernels.Generic(TestKernels.GenericNotes)
            .AddSection("__xen_guest", ElfBuilder.ShtProgbits, "GUEST_OS=linux,XEN_VER=xen-3.0\0"u8.ToArray());

        var xen = ImageAssert.Parses(builder).Xen;

        Assert.False(xen.FromLegacySection);
        Assert.Equal("XTF", xen.GuestOs);
    }

    [Fact]
    public void LegacySectionIsUsedWhenNoteSegmentsHoldNoXenNotes()
    {
        var builder = Legacy("GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0xffffffff80000000")
            .AddNoteSegment(Note("GNU", 3, [1, 2, 3, 4]));

        Assert.True(ImageAssert.Parses(builder).Xen.FromLegacySection);
    }

    [Fact]
    public void LegacyStringWithoutTerminatorEndsAtSectionEnd()
    {
        var builder = new ElfBuilder { Entry = 0x100000 }
            .AddLoad(0x100000, 0x100000, [1], 0x1000)
            .AddSection("__xen_guest", ElfBuilder.ShtProgbits, "LOADER=generic,XEN_VER=xen-3.0"u8.ToArray())
            .AddSection(".after", ElfBuilder.ShtProgbits, "X,GUEST_OS=evil"u8.ToArray());

        var xen = ImageAssert.Parses(builder).Xen;

        Assert.Equal("xen-3.0", xen.XenVersion);
        Assert.Equal("", xen.GuestOs);
    }

    [Fact]
    public void LegacyUnknownRequiredFeatureIsRejected()
    {
        Assert.Contains("'!frobnicate'", ImageAssert.Fails(Legacy("GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0xffffffff80000000,FEATURES=!frobnicate")));
    }

    [Fact]
    public void LegacyStringMustStillPassLoaderAndVersionChecks()
    {
        Assert.Contains("generic loader or Linux", ImageAssert.Fails(Legacy("GUEST_OS=NetBSD,XEN_VER=xen-3.0,VIRT_BASE=0xffffffff80000000")));
        Assert.Contains("XEN_VERSION 'xen-2.0'", ImageAssert.Fails(Legacy("GUEST_OS=linux,XEN_VER=xen-2.0,VIRT_BASE=0xffffffff80000000")));
    }

    [Fact]
    public void LegacyPaddrOffsetWithoutVirtBaseIsRejected()
    {
        Assert.Contains("PADDR_OFFSET is set but VIRT_BASE is not",
            ImageAssert.Fails(Legacy("GUEST_OS=linux,XEN_VER=xen-3.0,ELF_PADDR_OFFSET=0", physStart: 0x100000, entry: 0x100000)));
    }
}
