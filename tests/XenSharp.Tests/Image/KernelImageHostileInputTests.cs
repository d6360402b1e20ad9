using XenSharp.Toolstack.Image;
using Xunit;
using static XenSharp.Tests.Image.XenNotes;

namespace XenSharp.Tests.Image;

/// <summary>Corrupt and random input must only ever produce KernelImageException, quickly and without big allocations.</summary>
public class KernelImageHostileInputTests
{
    // Offsets inside Elf64_Ehdr / Elf64_Phdr / Elf64_Shdr.
    private const int EPhoff = 32, EShoff = 40, EPhentsize = 54, EPhnum = 56, EShentsize = 58, EShnum = 60, EShstrndx = 62;
    private const int POffset = 8, PFilesz = 32, PMemsz = 40;
    private const int ShName = 0, ShOffset = 24, ShSize = 32;

    [Theory]
    [InlineData(0, "not an ELF file")]
    [InlineData(1, "not an ELF file")]
    [InlineData(3, "not an ELF file")]
    [InlineData(4, "truncated ELF header")]
    [InlineData(19, "truncated ELF header")]
    [InlineData(20, "truncated ELF header")]
    [InlineData(63, "truncated ELF header")]
    [InlineData(64, "truncated program header table")]
    [InlineData(100, "truncated program header table")]
    public void TruncatedFileIsRejected(int length, string expected)
    {
        byte[] whole = TestKernels.Linux().Build().Bytes;

        Assert.Equal(expected, ImageAssert.Fails(whole[..length]));
    }

    [Fact]
    public void EveryTruncationIsRejectedCleanly()
    {
        byte[] whole = TestKernels.Linux().Build().Bytes;
        for (int length = 0; length < whole.Length; length++)
            ImageAssert.Fails(whole[..length]);
    }

    [Fact]
    public void ProgramHeaderTableBeyondFileIsRejected()
    {
        var built = TestKernels.Linux().Build().Put64(EPhoff, (ulong)TestKernels.Linux().Build().Bytes.Length);
        Assert.Equal("truncated program header table", ImageAssert.Fails(built.Bytes));

        built.Put64(EPhoff, ulong.MaxValue - 8);
        Assert.Equal("truncated program header table", ImageAssert.Fails(built.Bytes));
    }

    [Fact]
    public void ProgramHeaderCountTimesSizeOverflowIsRejected()
    {
        var built = TestKernels.Linux().Build().Put64(EPhoff, ulong.MaxValue - 0x1000).Put16(EPhentsize, 0xFFFF).Put16(EPhnum, 0xFFFF);
        Assert.Equal("truncated program header table", ImageAssert.Fails(built.Bytes));

        built.Put64(EPhoff, 64);
        Assert.Equal("truncated program header table", ImageAssert.Fails(built.Bytes));
    }

    [Fact]
    public void ProgramHeaderEntrySizeTooSmallIsRejected()
    {
        var built = TestKernels.Linux().Build().Put16(EPhentsize, 8);

        Assert.Equal("program header entry size 8 is smaller than 56", ImageAssert.Fails(built.Bytes));
    }

    [Fact]
    public void SectionHeaderTableProblemsAreRejected()
    {
        var builder = TestKernels.Linux().AddSection(".comment", ElfBuilder.ShtProgbits, [1, 2]);

        Assert.Equal("truncated section header table", ImageAssert.Fails(builder.Build().Put64(EShoff, ulong.MaxValue).Bytes));
        Assert.Equal("truncated section header table", ImageAssert.Fails(builder.Build().Put16(EShnum, 0xFFFF).Bytes));
        Assert.Equal("section header entry size 4 is smaller than 64", ImageAssert.Fails(builder.Build().Put16(EShentsize, 4).Bytes));
    }

    [Fact]
    public void NoteWithHugeNameSizeIsRejected()
    {
        foreach (uint nameSize in new[] { 0xFFFFFFFFu, 0xFFFFFFFDu, 0x1000u })
        {
            var notes = Str(GuestOs, "linux");
            BitConverter.GetBytes(nameSize).CopyTo(notes, 0);

            Assert.Equal($"PT_NOTE segment 1: note name (namesz {nameSize}) runs past the end of the notes",
                ImageAssert.Fails(TestKernels.Generic(notes)));
        }
    }

    [Fact]
    public void NoteWithHugeDescriptorSizeIsRejected()
    {
        foreach (uint descSize in new[] { 0xFFFFFFFFu, 0xFFFFFFFDu, 0x100u })
        {
            var notes = Join([.. TestKernels.GenericNotes, Str(GuestVersion, "x")]);
            var last = Str(GuestVersion, "x");
            BitConverter.GetBytes(descSize).CopyTo(notes, notes.Length - last.Length + 4);

            Assert.Equal($"PT_NOTE segment 1: note descriptor (descsz {descSize}) runs past the end of the notes",
                ImageAssert.Fails(TestKernels.Generic(notes)));
        }
    }

    [Fact]
    public void ShortTrailingBytesInNoteSegmentAreIgnored()
    {
        var notes = Join([.. TestKernels.GenericNotes, new byte[11]]);

        Assert.Equal("XTF", ImageAssert.Parses(TestKernels.Generic(notes)).Xen.GuestOs);
    }

    [Fact]
    public void NoteSegmentBeyondFileIsRejected()
    {
        var built = TestKernels.Generic(TestKernels.GenericNotes).Build();
        built.Put64(BuiltElf.ProgramHeaderAt(1) + POffset, 0xFFFFFFFFFFFFFF00);
        Assert.Equal("PT_NOTE segment 1 lies outside the file", ImageAssert.Fails(built.Bytes));

        built = TestKernels.Generic(TestKernels.GenericNotes).Build();
        built.Put64(BuiltElf.ProgramHeaderAt(1) + PFilesz, ulong.MaxValue);
        Assert.Equal("PT_NOTE segment 1 lies outside the file", ImageAssert.Fails(built.Bytes));
    }

    [Fact]
    public void TooManyNotesAreRejected()
    {
        // Empty notes are 12 bytes each; libelf caps an image at 65536 notes.
        var builder = TestKernels.Generic().AddNoteSegment(new byte[12 * 65537]);

        Assert.Equal("too many ELF notes", ImageAssert.Fails(builder));
    }

    [Fact]
    public void NoteSectionBeyondFileIsRejected()
    {
        var built = TestKernels.Generic().AddSection(".note.Xen", ElfBuilder.ShtNote, Join(TestKernels.GenericNotes)).Build();
        built.Put64(built.SectionHeaderAt(1) + ShSize, 0x7FFFFFFFFFFFFFFF);

        Assert.Equal("SHT_NOTE section 1 lies outside the file", ImageAssert.Fails(built.Bytes));
    }

    [Fact]
    public void SegmentFileSizeAboveMemorySizeIsRejected()
    {
        var built = TestKernels.Linux().Build();
        built.Put64(BuiltElf.ProgramHeaderAt(0) + PMemsz, 0x2000);

        Assert.Equal("segment 0: file size 0x3000 exceeds memory size 0x2000", ImageAssert.Fails(built.Bytes));
    }

    [Fact]
    public void SegmentBytesBeyondFileAreRejected()
    {
        var built = TestKernels.Linux().Build();
        built.Put64(BuiltElf.ProgramHeaderAt(1) + POffset, 0x10000000);
        Assert.Equal("segment 1: file bytes 0x10000000+0x1000 lie outside the file", ImageAssert.Fails(built.Bytes));

        built = TestKernels.Linux().Build();
        built.Put64(BuiltElf.ProgramHeaderAt(1) + POffset, ulong.MaxValue).Put64(BuiltElf.ProgramHeaderAt(1) + PMemsz, ulong.MaxValue);
        Assert.Contains("lie outside the file", ImageAssert.Fails(built.Bytes));
    }

    [Fact]
    public void BssOnlySegmentMayHaveAnyOffset()
    {
        var built = TestKernels.Generic(TestKernels.GenericNotes).AddLoad(0x103000, 0x103000, [], 0x1000, ElfBuilder.PfR | ElfBuilder.PfW).Build();
        built.Put64(BuiltElf.ProgramHeaderAt(2) + POffset, ulong.MaxValue);

        Assert.Equal(0x104000UL, KernelImage.Parse(built.Bytes, "k").Xen.VirtKernelEnd);
    }

    [Fact]
    public void BadSectionNameTableIsHandled()
    {
        var builder = TestKernels.Generic().AddSection("__xen_guest", ElfBuilder.ShtProgbits, "LOADER=generic,XEN_VER=xen-3.0\0"u8.ToArray());

        // An out-of-range name table index means there are no names, hence no __xen_guest.
        Assert.Equal("no Xen ELF notes and no __xen_guest section: not a Xen PV kernel", ImageAssert.Fails(builder.Build().Put16(EShstrndx, 0xFFFF).Bytes));

        var built = builder.Build();
        built.Put64(built.SectionHeaderAt(2) + ShOffset, ulong.MaxValue);
        Assert.Equal("section name table (section 2) lies outside the file", ImageAssert.Fails(built.Bytes));

        built = builder.Build();
        built.Put32(built.SectionHeaderAt(1) + ShName, 0xFFFFFFF0);
        Assert.Equal("section 1: name offset 0xfffffff0 lies outside the section name table", ImageAssert.Fails(built.Bytes));

        built = builder.Build();
        built.Put64(built.SectionHeaderAt(1) + ShSize, ulong.MaxValue);
        Assert.Equal("__xen_guest section (section 1) lies outside the file", ImageAssert.Fails(built.Bytes));
    }

    [Fact]
    public void RandomBuffersOnlyEverRaiseKernelImageException()
    {
        var random = new Random(20260820);
        for (int i = 0; i < 2000; i++)
        {
            var buffer = new byte[random.Next(0, 600)];
            random.NextBytes(buffer);

            // Most random buffers die at the magic; give half of them a plausible x86-64 EXEC
            // header so the table and note parsers get exercised too.
            if (i % 2 == 1 && buffer.Length >= 64)
            {
                byte[] header = [0x7F, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1];
                header.CopyTo(buffer, 0);
                buffer[16] = 2;
                buffer[17] = 0;
                buffer[18] = 62;
                buffer[19] = 0;
                if (i % 4 == 1)
                {
                    // Small tables that fit, so entries are read from random bytes.
                    BitConverter.GetBytes(64UL).CopyTo(buffer, EPhoff);
                    BitConverter.GetBytes((ushort)56).CopyTo(buffer, EPhentsize);
                    BitConverter.GetBytes((ushort)Math.Min(8, (buffer.Length - 64) / 56)).CopyTo(buffer, EPhnum);
                    BitConverter.GetBytes((ushort)0).CopyTo(buffer, EShnum);
                }
            }

            AssertParsesOrThrowsKernelImageException(buffer);
        }
    }

    [Fact]
    public void MutatedValidKernelsOnlyEverRaiseKernelImageException()
    {
        // A compact image so most flipped bytes land in headers and notes rather than code.
        byte[] seed = new ElfBuilder { Entry = 0x100000 }
            .AddLoad(0x100000, 0x100000, TestKernels.Pattern(64, 0), 0x2000)
            .AddNoteSegment(Join([.. TestKernels.GenericNotes, U64(HypercallPage, 0x101000), Str(Features, "!writable_page_tables")]))
            .AddSection("__xen_guest", ElfBuilder.ShtProgbits, "LOADER=generic,XEN_VER=xen-3.0\0"u8.ToArray())
            .AddSection(".note.Xen", ElfBuilder.ShtNote, Join(TestKernels.GenericNotes))
            .Build().Bytes;
        var random = new Random(4242);
        int parsed = 0;

        for (int i = 0; i < 2000; i++)
        {
            byte[] buffer = (byte[])seed.Clone();
            int flips = random.Next(1, 9);
            for (int f = 0; f < flips; f++)
            {
                int at = random.Next(buffer.Length);
                buffer[at] = random.Next(4) == 0 ? (byte)0xFF : (byte)random.Next(256);
            }

            if (AssertParsesOrThrowsKernelImageException(buffer))
                parsed++;
        }

        // Sanity check that the mutations are mild enough to reach the deeper parsers.
        Assert.InRange(parsed, 1, 1999);
    }

    private static bool AssertParsesOrThrowsKernelImageException(byte[] buffer)
    {
        KernelImage image;
        try
        {
            image = KernelImage.Parse(buffer, "fuzz");
        }
        catch (KernelImageException e)
        {
            Assert.StartsWith("fuzz: ", e.Message);
            Assert.DoesNotContain('\n', e.Message);
            return false;
        }

        // Whatever parses must also lay out without tripping over itself.
        Assert.True(image.Xen.VirtKernelStart < image.Xen.VirtKernelEnd);
        if (image.ImageSize <= 16 << 20)
            image.CopyTo(new byte[image.ImageSize]);
        foreach (var segment in image.LoadSegments)
            _ = image.SegmentFileBytes(segment).Length;
        return true;
    }
}
