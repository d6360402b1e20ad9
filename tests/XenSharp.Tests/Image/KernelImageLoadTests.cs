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
}
