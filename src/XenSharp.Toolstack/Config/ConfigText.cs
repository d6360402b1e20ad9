using System.Globalization;
using System.Text;

namespace XenSharp.Toolstack.Config;

/// <summary>Quoting of user text inside error messages.</summary>
internal static class ConfigText
{
    public static string SingleQuoted(string text) => Quote(text, '\'');

    public static string DoubleQuoted(string text) => Quote(text, '"');

    /// <summary>A value as it would be written in the file: strings quoted, numbers as typed.</summary>
    public static string Describe(ConfigValue value) => value switch
    {
        ConfigString s => DoubleQuoted(s.Value),
        ConfigNumber n => n.Text,
        _ => "a list",
    };

    // Escaping control characters keeps every ConfigException message on one line, whatever the file holds.
    private static string Quote(string text, char quote)
    {
        var sb = new StringBuilder(text.Length + 2).Append(quote);
        foreach (char c in text)
        {
            switch (c)
            {
                case '\\': sb.Append(@"\\"); break;
                case '\n': sb.Append(@"\n"); break;
                case '\r': sb.Append(@"\r"); break;
                case '\t': sb.Append(@"\t"); break;
                default:
                    if (c == quote)
                        sb.Append('\\').Append(c);
                    else if (char.IsControl(c))
                        sb.Append(@"\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else
                        sb.Append(c);
                    break;
            }
        }
        return sb.Append(quote).ToString();
    }
}
