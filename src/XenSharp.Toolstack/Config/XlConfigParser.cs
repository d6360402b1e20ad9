namespace XenSharp.Toolstack.Config;

/// <summary>Reads xl.cfg-format domain config files.</summary>
public static class XlConfigParser
{
    /// <summary>
    /// Parses and checks a config. <paramref name="sourcePath"/> names the file in error messages, as given, and is
    /// the base for relative kernel and ramdisk paths.
    /// </summary>
    /// <exception cref="ConfigException">The text is malformed or a setting we interpret is invalid or missing.</exception>
    public static DomainConfig Parse(string text, string sourcePath) =>
        DomainConfigReader.Read(ParseSettings(text, sourcePath), sourcePath);

    /// <summary>Reads a config file and parses it like <see cref="Parse"/>.</summary>
    /// <exception cref="ConfigException">The file cannot be read, or <see cref="Parse"/> rejects it.</exception>
    public static DomainConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ConfigException(path, 0, "no such config file", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ConfigException(path, 0, $"cannot read config file: {e.Message}", e);
        }
        return Parse(text, path);
    }

    /// <summary>
    /// The syntax layer alone: every setting in the file, the last one winning for a repeated key, with nothing
    /// interpreted or required.
    /// </summary>
    /// <exception cref="ConfigException">The text is malformed.</exception>
    public static IReadOnlyDictionary<string, ConfigValue> ParseSettings(string text, string sourcePath)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(sourcePath);
        return SettingsParser.Parse(text, sourcePath).AsReadOnly();
    }
}
