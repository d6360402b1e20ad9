namespace XenSharp.Bench;

/// <summary>Repeated measurements of one quantity, in seconds.</summary>
public sealed class Samples
{
    private readonly List<double> _values = new();

    public IReadOnlyList<double> Values => _values;

    public double Median
    {
        get
        {
            double[] v = Sorted();
            return v.Length % 2 == 1 ? v[v.Length / 2] : (v[(v.Length / 2) - 1] + v[v.Length / 2]) / 2;
        }
    }

    public double Min => Sorted()[0];

    public void Add(double seconds) => _values.Add(seconds);

    private double[] Sorted() =>
        _values.Count == 0 ? throw new InvalidOperationException("no samples") : _values.Order().ToArray();
}
