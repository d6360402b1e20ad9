namespace XenSharp.Toolstack.Config;

/// <summary>
/// A config file that cannot be used. The message is a single "file:line: problem" line, the shape compilers and
/// xl use, so editors can jump to it; <see cref="Line"/> is 0 when the problem is not on any one line.
/// </summary>
public sealed class ConfigException : Exception
{
    public ConfigException(string file, int line, string detail, Exception? innerException = null)
        : base(line > 0 ? $"{file}:{line}: {detail}" : $"{file}: {detail}", innerException)
    {
        File = file;
        Line = line;
        Detail = detail;
    }

    /// <summary>The config file as the caller named it.</summary>
    public string File { get; }

    /// <summary>1-based line of the problem, or 0 for the file as a whole.</summary>
    public int Line { get; }

    /// <summary>The problem without the location prefix.</summary>
    public string Detail { get; }
}
