using System.Globalization;

namespace XenSharp.Bench;

/// <summary>
/// Command line: <c>--repo DIR --cli XENSHARP.DLL [--out FILE] [--n N] [--repeats R] [--getppid-n N] [--figures LETTERS]
/// [--lmbench-divisor D] [--linux-timeout SECONDS] [--oracle PATH] [--exit-n N] [--io-mib M] [--emulated]</c>.
/// </summary>
public sealed record BenchOptions(
    string Repo, string CliDll, string? Output, int N, int Repeats, int GetppidN,
    string Figures, int LmbenchDivisor, int LinuxTimeout, string? Oracle, int ExitN, int IoMib, bool Emulated = false)
{
    public const string AllFigures = "abcdefghi";

    public const string Usage =
        "usage: XenSharp.Bench --repo DIR --cli PATH/xensharp.dll [--out FILE.md] [--n 100000] [--repeats 5] [--getppid-n 1000000]"
        + " [--figures abcdefghi] [--lmbench-divisor 1] [--linux-timeout 1800] [--oracle PATH/xen-oracle] [--exit-n 20000] [--io-mib 256] [--emulated]";

    /// <summary>Whether figure <paramref name="letter"/> is to be measured.</summary>
    public bool Runs(char letter) => Figures.Contains(letter, StringComparison.Ordinal);

    public static BenchOptions Parse(string[] args)
    {
        string? repo = null, cli = null, output = null, oracle = null;
        string figures = AllFigures;
        bool emulated = false;
        int n = 100_000, repeats = 5, getppidN = 1_000_000, divisor = 1, linuxTimeout = 1800, exitN = 20_000, ioMib = 256;
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
                case "--lmbench-divisor": divisor = Count(); break;
                case "--linux-timeout": linuxTimeout = Count(); break;
                case "--exit-n": exitN = Count(); break;
                case "--io-mib": ioMib = Count(); break;
                case "--oracle": oracle = Value(); break;
                case "--emulated": emulated = true; break;
                case "--figures":
                    figures = Value();
                    if (figures.Length == 0 || figures.Any(c => !AllFigures.Contains(c, StringComparison.Ordinal)))
                    {
                        throw new BenchException($"--figures wants letters of \"{AllFigures}\", got \"{figures}\"");
                    }

                    break;
                default: throw new BenchException($"unknown argument \"{args[i]}\"\n{Usage}");
            }
        }

        if (repo is null || cli is null)
        {
            throw new BenchException(Usage);
        }

        return new BenchOptions(
            Path.GetFullPath(repo), Path.GetFullPath(cli), output is null ? null : Path.GetFullPath(output), n, repeats, getppidN,
            figures, divisor, linuxTimeout, oracle is null or "" ? null : Path.GetFullPath(oracle), exitN, ioMib, emulated);
    }
}
