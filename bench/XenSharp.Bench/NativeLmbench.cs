namespace XenSharp.Bench;

/// <summary>
/// bench/native/lmbench-rows.c built static with gcc into a temporary directory for this run (as tools/linux-guest
/// builds it into the Linux guest's initramfs) and run natively: figure (e)'s host column.
/// </summary>
public sealed class NativeLmbench : IDisposable
{
    private readonly string _directory;
    private readonly string _program;

    private NativeLmbench(string directory, string program)
    {
        _directory = directory;
        _program = program;
    }

    public static NativeLmbench Compile(string source)
    {
        if (!File.Exists(source))
        {
            throw new BenchException($"{source}: no such file");
        }

        string dir = Directory.CreateTempSubdirectory("xensharp-bench-lmbench-").FullName;
        string program = Path.Combine(dir, "lmbench-rows");
        ProcessResult r = ProcessResult.Run("gcc", ["-static", "-O2", "-Wall", "-Werror", source, "-o", program]);
        if (r.ExitCode != 0)
        {
            Directory.Delete(dir, recursive: true);
            throw new BenchException($"gcc -static failed on {source} (exit {r.ExitCode}; it needs libc6-dev):\n{r.Stdout}{r.Stderr}");
        }

        return new NativeLmbench(dir, program);
    }

    public LmbenchOutput Run(int divisor)
    {
        ProcessResult r = ProcessResult.Run(_program, [divisor.ToString(System.Globalization.CultureInfo.InvariantCulture)], _directory);
        LmbenchOutput o = LmbenchOutput.Parse(r.Stdout);
        if (r.ExitCode != 0 || !o.Complete)
        {
            throw new BenchException($"lmbench-rows {divisor} on the host failed (exit {r.ExitCode}, {o.Problem ?? "no end line"}):\n{r.Stdout}{r.Stderr}");
        }

        return o;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
