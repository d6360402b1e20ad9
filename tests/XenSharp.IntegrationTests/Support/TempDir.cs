namespace XenSharp.IntegrationTests.Support;

/// <summary>A scratch directory removed on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Path = Directory.CreateTempSubdirectory("xensharp-it-").FullName;

    public string Path { get; }

    public string File(string name, string contents)
    {
        string p = System.IO.Path.Combine(Path, name);
        System.IO.File.WriteAllText(p, contents);
        return p;
    }

    public string File(string name, byte[] contents)
    {
        string p = System.IO.Path.Combine(Path, name);
        System.IO.File.WriteAllBytes(p, contents);
        return p;
    }

    /// <summary>An xl config with the given kernel and memory, plus extra lines.</summary>
    public string Config(string name, string kernel, int memoryMiB = 32, string extra = "") =>
        File(name, $"name = \"{System.IO.Path.GetFileNameWithoutExtension(name)}\"\nkernel = \"{kernel}\"\nmemory = {memoryMiB}\n{extra}");

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
