namespace XenSharp.Toolstack.Config;

/// <summary>Where a path named in a config file points.</summary>
internal static class ConfigPaths
{
    /// <summary>
    /// Absolute paths are kept as written. Relative ones are taken from the config file's directory, not the
    /// current one, so a config and its kernel can be moved together and started from anywhere.
    /// </summary>
    public static string Resolve(string path, string sourcePath)
    {
        if (Path.IsPathRooted(path))
            return path;
        string configFile = Path.GetFullPath(sourcePath.Length > 0 ? sourcePath : ".");
        string directory = sourcePath.Length > 0 ? Path.GetDirectoryName(configFile) ?? configFile : configFile;
        return Path.GetFullPath(Path.Combine(directory, path));
    }
}
