using XenSharp.Toolstack.Image;
using Xunit;
using static XenSharp.Tests.Image.XenNotes;

namespace XenSharp.Tests.Image;

public class KernelImageLayoutTests
{
    private const ulong Base = 0xffffffff80000000;

    [Fact]
    public void SegmentsArePlacedByPhysicalAddressPlusVirtBase()
    {
        // p_vaddr is deliberately nonsense: libelf never reads it.
        var builder = new ElfBuilder { Entry = Base + 0x200000 }
            .AddLoad(0xdead0000, 0x200000, TestKernels.Pattern(0x1000, 0), 0x1000)
            .AddNoteSegment(Join([.. TestKernels.GenericNotes, U64(VirtBase, Base)]));

        var image = ImageAssert.Parses(builder);

        Assert.Equal(Base + 0x200000, image.Xen.VirtKernelStart);
        Assert.Equal(Base + 0x201000, image.Xen.VirtKernelEnd);
        Assert.Equal(Base + 0x200000, image.LoadAddressOf(image.LoadSegments[0]));
    }

    [Fact]
    public void PaddrOffsetIsSubtractedFromPhysicalAddresses()
    {
        // Older kernels put the virtual address in p_paddr and said so with PADDR_OFFSET.
        var builder = new ElfBuilder { Entry = Base + 0x100000 }
            .AddLoad(Base + 0x100000, Base + 0x100000, TestKernels.Pattern(0x1000, 0), 0x2000)
            .AddNoteSegment(Join([.. TestKernels.GenericNotes, U64(VirtBase, Base), U64(PaddrOffset, Base)]));

        var xen = ImageAssert.Parses(builder).Xen;

        Assert.Equal(Base, xen.PaddrOffset);
        Assert.Equal(Base + 0x100000, xen.VirtKernelStart);
        Assert.Equal(Base + 0x102000, xen.VirtKernelEnd);
    }

    [Fact]
    public void PtLoadWithoutPermissionsIsNotLoaded()
    {
        var builder = TestKernels.Generic(TestKernels.GenericNotes)
            .AddLoad(0x900000, 0x900000, [1, 2, 3], 0x1000, flags: 0);

        var image = ImageAssert.Parses(builder);

        Assert.Single(image.LoadSegments);
        Assert.Equal(TestKernels.GenericStart + TestKernels.GenericMemSize, image.Xen.VirtKernelEnd);
    }

    [Fact]
    public void ImageSpansLowestToHighestSegmentEvenOutOfOrder()
    {
        var builder = new ElfBuilder { Entry = 0x400000 }
            .AddLoad(0x500000, 0x500000, [9], 0x800)
            .AddLoad(0x400000, 0x400000, [8], 0x10)
            .AddNoteSegment(Join(TestKernels.GenericNotes));

        var xen = ImageAssert.Parses(builder).Xen;

        Assert.Equal(0x400000UL, xen.VirtKernelStart);
        Assert.Equal(0x500800UL, xen.VirtKernelEnd);
    }

    [Fact]
    public void CopyToLaysOutSegmentsZeroesBssAndGaps()
    {
        var text = TestKernels.Pattern(0x1800, 3);
        var data = TestKernels.Pattern(0x100, 4);
        var builder = new ElfBuilder { Entry = 0x100000 }
            .AddLoad(0x100000, 0x100000, text, 0x2000)
            .AddLoad(0x103000, 0x103000, data, 0x1000, ElfBuilder.PfR | ElfBuilder.PfW)
            .AddNoteSegment(Join(TestKernels.GenericNotes));
        var image = ImageAssert.Parses(builder);
        var buffer = Enumerable.Repeat((byte)0xCC, 0x5000).ToArray();

        image.CopyTo(buffer);

        Assert.Equal(0x4000, image.ImageSize);
        Assert.Equal(text, buffer[..0x1800]);
        Assert.All(buffer[0x1800..0x3000], b => Assert.Equal(0, b));
        Assert.Equal(data, buffer[0x3000..0x3100]);
        Assert.All(buffer[0x3100..0x4000], b => Assert.Equal(0, b));
        Assert.All(buffer[0x4000..], b => Assert.Equal(0xCC, b));
    }

    [Fact]
    public void CopyToLetsLaterSegmentOverwriteEarlierIncludingWithBss()
    {
        var builder = new ElfBuilder { Entry = 0x100000 }
            .AddLoad(0x100000, 0x100000, Enumerable.Repeat((byte)0x11, 0x2000).ToArray(), 0x2000)
            .AddLoad(0x101000, 0x101000, [0x22, 0x22], 0x800)
            .AddNoteSegment(Join(TestKernels.GenericNotes));
        var image = ImageAssert.Parses(builder);
        var buffer = new byte[image.ImageSize];

        image.CopyTo(buffer);

        Assert.Equal(0x11, buffer[0xfff]);
        Assert.Equal(0x22, buffer[0x1001]);
        Assert.Equal(0, buffer[0x1002]);
        Assert.Equal(0, buffer[0x17ff]);
        Assert.Equal(0x11, buffer[0x1800]);
    }

    [Fact]
    public void CopyToRefusesTooSmallDestination()
    {
        var image = ImageAssert.Parses(TestKernels.Linux());

        Assert.Throws<ArgumentException>(() => image.CopyTo(new byte[image.ImageSize - 1]));
    }

    [Fact]
    public void LinuxImageCopiesToItsVirtualLayout()
    {
        var image = ImageAssert.Parses(TestKernels.Linux());
        var buffer = new byte[image.ImageSize];

        image.CopyTo(buffer);

        Assert.Equal(0x6000, buffer.Length);
        Assert.Equal(TestKernels.Pattern(0x3000, 1), buffer[..0x3000]);
        Assert.Equal(TestKernels.Pattern(0x1000, 2), buffer[0x3000..0x4000]);
        Assert.All(buffer[0x4000..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void SegmentFileBytesOfForeignSegmentIsRejected()
    {
        var image = ImageAssert.Parses(TestKernels.Linux());

        Assert.Throws<ArgumentOutOfRangeException>(() => image.SegmentFileBytes(new ElfSegment(0, 0, 0x7fff_ffff, 0x10, 0x10, 4)).ToArray());
    }
}
