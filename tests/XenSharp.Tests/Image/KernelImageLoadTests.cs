using XenSharp.Toolstack.Image;
using Xunit;

namespace XenSharp.Tests.Image;

public sealed class KernelImageLoadTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("xensharp-image-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void LoadReadsAKernelFile()
    {
        string path = Path.Combine(_directory, "vmlinux");
        File.WriteAllBytes(path, TestKernels.Linux().Build().Bytes);

        var image = KernelImage.Load(path);

        Assert.Equal(TestKernels.LinuxEntry, image.Xen.Entry);
    }

    [Fact]
    public void AGzippedKernelIsUnpackedFirst()
    {
        string path = Path.Combine(_directory, "vmlinux.gz");
        File.WriteAllBytes(path, Gzip(TestKernels.Linux().Build().Bytes));

        Assert.Equal(TestKernels.LinuxEntry, KernelImage.Load(path).Xen.Entry);
    }

    [Fact]
    public void GzipDataLongerThanItsTrailerSaysIsRefused()
    {
        byte[] gz = Gzip(new byte[1 << 20]); // long enough to inflate past the cap before the trailer is checked
        gz.AsSpan(gz.Length - 4).Clear();
        gz[^4] = 10; // ISIZE 10; libxc's buffer would be 26 bytes
        string path = Path.Combine(_directory, "short.gz");
        File.WriteAllBytes(path, gz);

        Assert.Equal($"{path}: gzip data inflates to more than the 10 bytes its trailer gives",
            Assert.Throws<KernelImageException>(() => KernelImage.Load(path)).Message);
    }

    [Fact]
    public void BadGzipDataIsRefused()
    {
        string path = Path.Combine(_directory, "bad.gz");
        File.WriteAllBytes(path, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 16, 0, 0, 0]);

        Assert.StartsWith($"{path}: bad gzip data", Assert.Throws<KernelImageException>(() => KernelImage.Load(path)).Message);
    }

    [Fact]
    public void AGzipTrailerClaimingMoreThanTheLimitIsTakenAsIs()
    {
        byte[] gz = Gzip(new byte[100]);
        gz[^1] = 0x80; // ISIZE 2 GiB + 100: libxc skips the gunzip, and the raw file is no ELF
        string path = Path.Combine(_directory, "huge.gz");
        File.WriteAllBytes(path, gz);

        Assert.Equal($"{path}: not an ELF file", Assert.Throws<KernelImageException>(() => KernelImage.Load(path)).Message);
    }

    [Fact]
    public void MissingFileIsReported()
    {
        string path = Path.Combine(_directory, "nope");

        var e = Assert.Throws<KernelImageException>(() => KernelImage.Load(path));

        Assert.Equal($"{path}: no such kernel file", e.Message);
    }

    [Fact]
    public void MissingDirectoryIsReported()
    {
        string path = Path.Combine(_directory, "no-dir", "vmlinux");

        Assert.Equal($"{path}: no such kernel file", Assert.Throws<KernelImageException>(() => KernelImage.Load(path)).Message);
    }

    [Fact]
    public void DirectoryIsReportedAsUnreadable()
    {
        var e = Assert.Throws<KernelImageException>(() => KernelImage.Load(_directory));

        Assert.StartsWith($"{_directory}: cannot read kernel file", e.Message);
    }

    [Fact]
    public void CharacterDeviceReadsAsEmptyFile()
    {
        if (!File.Exists("/dev/null"))
            return;
        string path = Path.Combine(_directory, "devnull");
        File.CreateSymbolicLink(path, "/dev/null");

        Assert.Equal($"{path}: not an ELF file", Assert.Throws<KernelImageException>(() => KernelImage.Load(path)).Message);
    }

    [Fact]
    public void MessagesNameTheFile()
    {
        string path = Path.Combine(_directory, "empty");
        File.WriteAllBytes(path, []);

        Assert.Equal($"{path}: not an ELF file", Assert.Throws<KernelImageException>(() => KernelImage.Load(path)).Message);
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }
}
