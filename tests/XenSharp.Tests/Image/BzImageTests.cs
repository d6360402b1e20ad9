using System.Buffers.Binary;
using System.Diagnostics;
using XenSharp.Toolstack.Image;
using Xunit;

namespace XenSharp.Tests.Image;

/// <summary>Linux bzImages as xl loads them: the vmlinux ELF found through the setup header and decompressed.</summary>
public sealed class BzImageTests : IDisposable
{
    private static readonly byte[] Vmlinux = TestKernels.Linux().Build().Bytes;

    private readonly string _directory = Directory.CreateTempSubdirectory("xensharp-bzimage-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<string> Formats => ["gzip", "xz", "bzip2", "lzma", "lz4", "zstd"];

    [Theory]
    [MemberData(nameof(Formats))]
    public void EveryPayloadCompressionLoadsTheSameElf(string format)
    {
        var image = Load(new BzImageBuilder(PayloadEncoder.Encode(format, Vmlinux)).Build());

        AssertIsTheTestKernel(image);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void AGzippedBzImageIsUnpackedTwice(string format)
    {
        byte[] bzImage = new BzImageBuilder(PayloadEncoder.Encode(format, Vmlinux)).Build();

        AssertIsTheTestKernel(Load(PayloadEncoder.Gzip(bzImage)));
    }

    [Fact]
    public void SetupSectsZeroMeansFour()
    {
        AssertIsTheTestKernel(Load(new BzImageBuilder(PayloadEncoder.Xz(Vmlinux)) { SetupSects = 0 }.Build()));
    }

    [Fact]
    public void AnLz4PayloadOfSeveralBlocksLoads()
    {
        AssertIsTheTestKernel(Load(new BzImageBuilder(PayloadEncoder.Lz4(Vmlinux, blockSize: 0x1000)).Build()));
    }

    [Fact]
    public void AnLzmaHeaderClaimingAHugeDictionaryStillLoads()
    {
        AssertIsTheTestKernel(Load(new BzImageBuilder(PayloadEncoder.Lzma(Vmlinux, dictionaryInHeader: 0xffffff00)).Build()));
    }

    /// <summary>The xz Linux's build writes: xz-utils' own encoder with the x86 BCJ filter and LZMA2 (scripts/xz_wrap.sh).</summary>
    [HostXzFact]
    public void AnXzPayloadFromXzUtilsLoads()
    {
        var xz = new ProcessStartInfo(HostXzFactAttribute.Path()!, ["--format=xz", "--check=crc32", "--x86", "--lzma2=dict=1MiB", "--stdout"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        };
        using var process = Process.Start(xz)!;
        using var compressed = new MemoryStream();
        Task copy = process.StandardOutput.BaseStream.CopyToAsync(compressed);
        process.StandardInput.BaseStream.Write(Vmlinux);
        process.StandardInput.Close();
        copy.GetAwaiter().GetResult();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);

        AssertIsTheTestKernel(Load(new BzImageBuilder(PayloadEncoder.WithSize(compressed.ToArray(), Vmlinux.Length)).Build()));
    }

    [Fact]
    public void TheX86FilterUndoesWhatItsEncoderDid()
    {
        var random = new Random(12);
        byte[] code = new byte[0x10000];
        random.NextBytes(code);
        for (int i = 0; i < code.Length; i += random.Next(1, 9))
            code[i] = random.Next(2) == 0 ? (byte)0xe8 : (byte)0xe9; // calls and jumps, some a few bytes apart
        byte[] filtered = (byte[])code.Clone();

        X86BranchFilter.Encode(filtered);
        Assert.NotEqual(code, filtered);
        X86BranchFilter.Decode(filtered);

        Assert.Equal(code, filtered);
    }

    [Fact]
    public void AnOldBootProtocolIsRefused()
    {
        string path = Write(new BzImageBuilder(PayloadEncoder.Xz(Vmlinux)) { Version = 0x0206 }.Build());

        Assert.Equal($"{path}: bzImage boot protocol 2.06 is older than 2.08, which has no payload fields", Error(path));
    }

    [Fact]
    public void ATruncatedImageIsRefused()
    {
        byte[] bzImage = new BzImageBuilder(PayloadEncoder.Xz(Vmlinux)).Build();
        string path = Write(bzImage[..^200]);

        Assert.Matches(@"^.*: bzImage is truncated: its payload \(\d+ bytes at offset 2368\) ends past the end of the file \(\d+ bytes\)$", Error(path));
    }

    [Fact]
    public void AnImageEndingInsideItsSetupHeaderIsRefused()
    {
        string path = Write(new BzImageBuilder(PayloadEncoder.Xz(Vmlinux)).Build()[..0x220]);

        Assert.Equal($"{path}: bzImage is truncated: 544 bytes end inside its setup header (0x250 bytes)", Error(path));
    }

    [Fact]
    public void AnUnknownCompressionIsRefused()
    {
        byte[] lzo = PayloadEncoder.WithSize([0x89, 0x4c, 0x5a, 0x4f, 0, 0x0d, 0x0a, 0x1a, 0x0a], Vmlinux.Length);
        string path = Write(new BzImageBuilder(lzo).Build());

        Assert.Equal($"{path}: bzImage payload has an unknown compression (it starts 894C5A4F; gzip, xz, bzip2, lzma, lz4 and zstd are understood)", Error(path));
    }

    [Fact]
    public void AnEmptyPayloadIsRefused()
    {
        string path = Write(new BzImageBuilder([]).Build());

        Assert.Equal($"{path}: bzImage payload is 0 bytes, too short to hold a compressed kernel and its size", Error(path));
    }

    /// <summary>The stream's bytes after its magic overwritten: each decoder's complaint, on one line after the file and format.</summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void ACorruptStreamIsOneLine(string format)
    {
        byte[] payload = PayloadEncoder.Encode(format, Vmlinux);
        int keep = format == "lzma" ? 13 : 6; // the magic, and lzma's whole header
        payload.AsSpan(keep, payload.Length - keep - 8).Fill(0xa5);
        string path = Write(new BzImageBuilder(payload).Build());

        string message = Error(path);

        Assert.StartsWith($"{path}: bzImage {format} payload ", message);
        Assert.Matches(@"payload (is corrupt: \S.*|decompresses to \d+ bytes, not the \d+ its size field gives \(cut off or corrupt\))$", message);
        Assert.DoesNotContain('\n', message);
    }

    /// <summary>A stream cut short (and the size field moved to the new end, as if built so).</summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void ACutOffStreamIsOneLine(string format)
    {
        byte[] payload = PayloadEncoder.Encode(format, Vmlinux);
        byte[] cut = [.. payload.AsSpan(0, payload.Length / 2), .. payload.AsSpan(payload.Length - 4)];
        string path = Write(new BzImageBuilder(cut).Build());

        string message = Error(path);

        Assert.StartsWith($"{path}: bzImage {format} payload ", message);
        Assert.Matches(@"payload (is corrupt: \S.*|decompresses to \d+ bytes, not the \d+ its size field gives \(cut off or corrupt\))$", message);
        Assert.DoesNotContain('\n', message);
    }

    /// <summary>The size Linux appends caps the output: a stream that delivers more is refused as soon as it passes it.</summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void APayloadDecompressingPastItsSizeFieldIsRefused(string format)
    {
        byte[] payload = PayloadEncoder.Encode(format, Vmlinux);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(payload.Length - 4), 100);
        string path = Write(new BzImageBuilder(payload).Build());

        Assert.Equal($"{path}: bzImage {format} payload decompresses to more than the 100 bytes its size field gives", Error(path));
    }

    [Fact]
    public void ASizeFieldPastTheLimitIsRefused()
    {
        byte[] payload = PayloadEncoder.Zstd(Vmlinux);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(payload.Length - 4), 0x80000000);
        string path = Write(new BzImageBuilder(payload).Build());

        Assert.Equal($"{path}: bzImage zstd payload gives its size as 2147483648 bytes, more than the 1073741824 allowed", Error(path));
    }

    private static void AssertIsTheTestKernel(KernelImage image)
    {
        var expected = KernelImage.Parse(Vmlinux, "vmlinux");
        Assert.Equal(TestKernels.LinuxEntry, image.Xen.Entry);
        Assert.Equal(expected.ImageSize, image.ImageSize);
        byte[] loaded = new byte[image.ImageSize], wanted = new byte[expected.ImageSize];
        image.CopyTo(loaded);
        expected.CopyTo(wanted);
        Assert.Equal(wanted, loaded);
    }

    private KernelImage Load(byte[] file) => KernelImage.Load(Write(file));

    private string Write(byte[] file)
    {
        string path = Path.Combine(_directory, $"vmlinuz-{Guid.NewGuid():N}");
        File.WriteAllBytes(path, file);
        return path;
    }

    private static string Error(string path) => Assert.Throws<KernelImageException>(() => KernelImage.Load(path)).Message;
}
