using System.Globalization;
using System.Text;

namespace XenSharp.Bench;

/// <summary>The run's results as markdown: a header describing the machine, then one table per figure.</summary>
public sealed class Report
{
    private readonly StringBuilder _text = new();

    public Report(string title) => _text.Append("# ").AppendLine(title).AppendLine();

    public void Line(string text) => _text.AppendLine(text);

    public void Table(string heading, string[] columns, IEnumerable<string[]> rows)
    {
        _text.AppendLine().Append("## ").AppendLine(heading).AppendLine();
        _text.Append("| ").AppendJoin(" | ", columns).AppendLine(" |");
        _text.Append('|').AppendJoin("", columns.Select(c => c.StartsWith("measure", StringComparison.Ordinal) ? "---|" : "---:|")).AppendLine();
        foreach (string[] row in rows)
        {
            _text.Append("| ").AppendJoin(" | ", row).AppendLine(" |");
        }
    }

    public override string ToString() => _text.ToString();

    public static string Us(double seconds) => Invariant($"{seconds * 1e6:0.000} µs");

    public static string Ms(double seconds) => Invariant($"{seconds * 1e3:0.0} ms");

    public static string Times(double ratio) => Invariant($"{ratio:0.00}×");

    public static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
