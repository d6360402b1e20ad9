namespace XenSharp.IntegrationTests.Support;

/// <summary>Where the repository, the C test guests and the CLI are, found from the test assembly's directory.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    /// <summary>The directory that holds XenSharp.slnx, found by walking up from <see cref="AppContext.BaseDirectory"/>.</summary>
    public static string Root => LazyRoot.Value;

    /// <summary>guests/build/&lt;name&gt;.elf, built by the project's BuildTestGuests target (`make -C guests`).</summary>
    public static string Guest(string name)
    {
        string path = Path.Combine(Root, "guests", "build", name + ".elf");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"test guest {path} is missing; the build runs `make -C guests`, did it fail?", path);
        }

        return path;
    }

    /// <summary>xensharp.dll: the copy next to this assembly (the project references the CLI), else the CLI's own build output.</summary>
    public static string CliDll
    {
        get
        {
            string beside = Path.Combine(AppContext.BaseDirectory, "xensharp.dll");
            if (File.Exists(beside))
            {
                return beside;
            }

#if DEBUG
            string[] configurations = ["Debug", "Release"];
#else
            string[] configurations = ["Release", "Debug"];
#endif
            foreach (string c in configurations)
            {
                string built = Path.Combine(Root, "src", "XenSharp.Cli", "bin", c, "net10.0", "xensharp.dll");
                if (File.Exists(built))
                {
                    return built;
                }
            }

            throw new FileNotFoundException($"xensharp.dll is neither in {AppContext.BaseDirectory} nor in the CLI project's bin directory");
        }
    }

    private static string FindRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "XenSharp.slnx")))
            {
                return d.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no directory above {AppContext.BaseDirectory} holds XenSharp.slnx");
    }
}
