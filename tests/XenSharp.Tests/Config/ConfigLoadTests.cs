using System.Text;
using XenSharp.Toolstack.Config;
using Xunit;

namespace XenSharp.Tests.Config;

/// <summary>Reading config files from disk.</summary>
public sealed class ConfigLoadTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("xensharp-config-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(directory, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Write(string name, string text) => Write(name, Encoding.UTF8.GetBytes(text));

    public static TheoryData<string, byte[]> Encodings => new()
    {
        { "lf", Encoding.UTF8.GetBytes("name = \"d\"\nkernel = \"vmlinuz\"\nmemory = 64\n") },
        { "crlf", Encoding.UTF8.GetBytes("name = \"d\"\r\nkernel = \"vmlinuz\"\r\nmemory = 64\r\n") },
        { "bom", [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("name = \"d\"\nkernel = \"vmlinuz\"\nmemory = 64\n")] },
        { "bom+crlf", [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("name = \"d\"\r\nkernel = \"vmlinuz\"\r\nmemory = 64")] },
    };

    [Theory]
    [MemberData(nameof(Encodings))]
    public void LoadsFileAndResolvesKernelBesideIt(string label, byte[] bytes)
    {
        string path = Write(Path.Combine("guests", label + ".cfg"), bytes);

        var config = XlConfigParser.Load(path);

        Assert.Equal("d", config.Name);
        Assert.Equal(64, config.MemoryMiB);
        Assert.Equal(Path.Combine(directory, "guests", "vmlinuz"), config.Kernel);
        Assert.Equal(path, config.SourcePath);
    }

    [Fact]
    public void NonAsciiUtf8()
    {
        string path = Write("u.cfg", "name = \"gäst\"\nkernel = \"/k\"\nextra = \"motd=héllo\"\n");

        var config = XlConfigParser.Load(path);

        Assert.Equal("gäst", config.Name);
        Assert.Equal("motd=héllo", config.CommandLine);
    }

    [Fact]
    public void BomDoesNotShiftErrorLines()
    {
        string path = Write("bom.cfg", [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("name = \"d\"\nkernel = \"/k\"\nvcpus 2\n")]);

        var error = Assert.Throws<ConfigException>(() => XlConfigParser.Load(path));

        Assert.Equal($"{path}:3: expected '=' after 'vcpus'", error.Message);
    }

    [Fact]
    public void EmptyFileLacksKernel()
    {
        string path = Write("empty.cfg", []);

        var error = Assert.Throws<ConfigException>(() => XlConfigParser.Load(path));

        Assert.Equal($"{path}: no 'kernel' setting", error.Message);
        Assert.Equal(0, error.Line);
    }

    [Fact]
    public void MissingFile()
    {
        string path = Path.Combine(directory, "absent.cfg");

        var error = Assert.Throws<ConfigException>(() => XlConfigParser.Load(path));

        Assert.Equal($"{path}: no such config file", error.Message);
        Assert.Equal(path, error.File);
        Assert.Equal(0, error.Line);
    }

    [Fact]
    public void MissingDirectory()
    {
        string path = Path.Combine(directory, "no", "such", "dir.cfg");

        var error = Assert.Throws<ConfigException>(() => XlConfigParser.Load(path));

        Assert.Equal($"{path}: no such config file", error.Message);
    }

    [Fact]
    public void DirectoryIsNotAConfigFile()
    {
        var error = Assert.Throws<ConfigException>(() => XlConfigParser.Load(directory));

        Assert.Equal($"{directory}: is a directory, not a config file", error.Message);
        Assert.Equal(0, error.Line);
    }

    [Fact]
    public void AFileLargerThanAnyConfigIsNotRead()
    {
        string path = Write("huge.cfg", new byte[XlConfigParser.MaxFileBytes + 1]);

        var error = Assert.Throws<ConfigException>(() => XlConfigParser.Load(path));

        Assert.Equal($"{path}: is larger than 1 MiB, too large for a config file", error.Message);
    }

    [Fact]
    public void ADeviceThatNeverEndsIsNotReadForEver()
    {
        var error = Assert.Throws<ConfigException>(() => XlConfigParser.Load("/dev/zero"));

        Assert.Equal("/dev/zero: is larger than 1 MiB, too large for a config file", error.Message);
    }

    [Fact]
    public void AFileOfTheLargestSizeIsRead()
    {
        string text = "name = \"d\"\nkernel = \"/k\"\n";
        string path = Write("padded.cfg", text + new string('#', XlConfigParser.MaxFileBytes - text.Length));

        Assert.Equal("d", XlConfigParser.Load(path).Name);
    }

    [Fact]
    public void ErrorsNameTheFileAsGiven()
    {
        Write("bad.cfg", "name = \"d\"\nkernel = \"/k\"\non_crash = \"explode\"\n");
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, Path.Combine(directory, "bad.cfg"));

        var error = Assert.Throws<ConfigException>(() => XlConfigParser.Load(relative));

        Assert.StartsWith($"{relative}:3: unknown on_crash action 'explode'", error.Message);
        Assert.Equal(relative, error.File);
    }
}
