using System.Diagnostics;
using System.Text;

namespace XenSharp.Bench;

/// <summary>
/// One child process timed from just before <see cref="Process.Start()"/> to the first byte on its stdout and to its
/// exit. Stdout is read in raw chunks, so the first byte is seen as soon as the pipe has it (the CLI flushes each
/// console line); stderr is drained and kept for error messages.
/// </summary>
public sealed record ProcessTiming(double FirstByteSeconds, double ExitSeconds, int ExitCode, string Stdout, string Stderr)
{
    public static ProcessTiming Measure(string fileName, IEnumerable<string> arguments, string workingDirectory)
    {
        var psi = new ProcessStartInfo(fileName, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        var p = new Process { StartInfo = psi };
        long t0 = Clock.Now;
        if (!p.Start())
        {
            throw new BenchException($"could not start {fileName}");
        }

        using (p)
        {
            Task<string> stderr = p.StandardError.ReadToEndAsync();
            Stream stdout = p.StandardOutput.BaseStream;
            var text = new MemoryStream();
            var buffer = new byte[4096];
            long firstByte = 0;
            int got;
            while ((got = stdout.Read(buffer)) > 0)
            {
                if (firstByte == 0)
                {
                    firstByte = Clock.Now;
                }

                text.Write(buffer, 0, got);
            }

            p.WaitForExit();
            long exited = Clock.Now;
            string output = Encoding.UTF8.GetString(text.ToArray());
            string errors = stderr.GetAwaiter().GetResult();
            if (firstByte == 0)
            {
                throw new BenchException($"{fileName} {string.Join(' ', arguments)} printed nothing on stdout (exit {p.ExitCode}):\n{errors}");
            }

            return new ProcessTiming(Clock.Seconds(t0, firstByte), Clock.Seconds(t0, exited), p.ExitCode, output, errors);
        }
    }
}
