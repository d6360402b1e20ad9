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

    /// <summary>The largest config file read; xl's are a few hundred bytes, and this keeps `run /dev/zero` from filling memory.</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>Reads a config file and parses it like <see cref="Parse"/>.</summary>
    /// <exception cref="ConfigException">The file cannot be read, or <see cref="Parse"/> rejects it.</exception>
    public static DomainConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Parse(ReadText(path), path);
    }

    private static string ReadText(string path)
    {
        if (Directory.Exists(path))
            throw new ConfigException(path, 0, "is a directory, not a config file");
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var bytes = new byte[MaxFileBytes + 1];
            int length = file.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            if (length > MaxFileBytes)
                throw new ConfigException(path, 0, $"is larger than {MaxFileBytes >> 20} MiB, too large for a config file");
            using var reader = new StreamReader(new MemoryStream(bytes, 0, length), detectEncodingFromByteOrderMarks: true);
            return reader.ReadToEnd();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ConfigException(path, 0, "no such config file", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ConfigException(path, 0, "no permission to read the config file", e);
        }
        catch (Exception e) when (e is IOException or ArgumentException or NotSupportedException)
        {
            throw new ConfigException(path, 0, $"cannot read config file: {e.Message}", e);
        }
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
