using System.Globalization;

namespace XenSharp.Bench;

/// <summary>Command line: <c>--repo DIR --cli XENSHARP.DLL [--out FILE] [--n N] [--repeats R] [--getppid-n N]</c>.</summary>
public sealed record BenchOptions(string Repo, string CliDll, string? Output, int N, int Repeats, int GetppidN)
{
    public const string Usage =
        "usage: XenSharp.Bench --repo DIR --cli PATH/xensharp.dll [--out FILE.md] [--n 100000] [--repeats 5] [--getppid-n 1000000]";

    public static BenchOptions Parse(string[] args)
    {
        string? repo = null, cli = null, output = null;
        int n = 100_000, repeats = 5, getppidN = 1_000_000;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new BenchException($"{args[i]} needs a value\n{Usage}");
            int Count()
            {
                string name = args[i];
                string v = Value();
                return int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int c) && c > 0
                    ? c
                    : throw new BenchException($"{name} wants a positive count, got \"{v}\"");
            }

            switch (args[i])
            {
                case "--repo": repo = Value(); break;
                case "--cli": cli = Value(); break;
                case "--out": output = Value(); break;
                case "--n": n = Count(); break;
                case "--repeats": repeats = Count(); break;
                case "--getppid-n": getppidN = Count(); break;
                default: throw new BenchException($"unknown argument \"{args[i]}\"\n{Usage}");
            }
        }

        if (repo is null || cli is null)
        {
            throw new BenchException(Usage);
        }

        return new BenchOptions(Path.GetFullPath(repo), Path.GetFullPath(cli), output is null ? null : Path.GetFullPath(output), n, repeats, getppidN);
    }
}
