using System.Globalization;

namespace XenSharp.Bench;

/// <summary>
/// What bench/native/lmbench-rows.c printed, parsed: its <c>row NAME n=COUNT ns=NS</c> lines, whether it reached
/// <c>end</c>, and its <c>error</c> line if any. Only lines that start with <see cref="Prefix"/> count, so the same
/// parser reads the program's own stdout and a guest console, where the lines end in CR LF and sit among the typed
/// command's echo, the shell's prompt and kernel messages. A <c>row</c> line that does not parse is an error of the
/// output (a row named twice too): <see cref="Problem"/> says which.
/// </summary>
public sealed record LmbenchOutput(IReadOnlyList<LmbenchRow> Rows, bool Ended, string? Problem)
{
    public const string Prefix = "lmbench-rows: ";

    /// <summary>Every row printed and <c>end</c> reached, with no error.</summary>
    public bool Complete => Ended && Problem is null;

    public LmbenchRow? Find(string name) => Rows.FirstOrDefault(r => r.Name == name);

    public static LmbenchOutput Parse(string text)
    {
        var rows = new List<LmbenchRow>();
        bool ended = false;
        string? problem = null;
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim('\r', ' ', '\t');
            if (!line.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            string body = line[Prefix.Length..];
            string[] words = body.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            switch (words)
            {
                case ["end"]:
                    ended = true;
                    break;
                case ["row", string name, string n, string ns]
                    when Field(n, "n=", out double count) && count >= 1 && count == Math.Floor(count) && Field(ns, "ns=", out double perOp) && perOp >= 0:
                    if (rows.Any(r => r.Name == name))
                    {
                        problem ??= $"row {name} printed twice";
                    }
                    else
                    {
                        rows.Add(new LmbenchRow(name, (long)count, perOp));
                    }

                    break;
                case ["row", ..]:
                    problem ??= $"malformed line \"{line}\"";
                    break;
                case ["error", ..]:
                    problem ??= body;
                    break;
                default:
                    break; // begin, and anything a later version adds
            }
        }

        return new LmbenchOutput(rows, ended, problem);
    }

    private static bool Field(string word, string key, out double value)
    {
        value = 0;
        return word.StartsWith(key, StringComparison.Ordinal)
            && double.TryParse(word.AsSpan(key.Length), NumberStyles.Float, CultureInfo.InvariantCulture, out value)
            && double.IsFinite(value);
    }
}
