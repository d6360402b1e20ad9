using System.Diagnostics;
using System.Text;

namespace XenSharp.Bench;

/// <summary>
/// Figures (e) and (f) on XenSharp: one <c>dotnet xensharp.dll run examples/linux.cfg --exit-stats</c> as a child
/// process, timed from just before its start to the kernel's "Run /init" line and to busybox's prompt on its stdout
/// (each stamped when the chunk that completes it is read from the pipe); then <c>lmbench-rows DIVISOR</c> is typed at
/// the prompt, its lines are read back, <c>poweroff</c> is typed and the run must end with exit status 0. A run that
/// does not get that far within the time limit is killed and reported with the end of its console.
/// </summary>
public static class LinuxGuestBench
{
    public sealed record Result(
        double RunInitSeconds,
        double PromptSeconds,
        double? KernelRunInit,
        double? InitDone,
        LmbenchOutput Lmbench,
        double LmbenchSeconds,
        string? ExitStats);

    public static Result Run(string cliDll, string config, string repo, int divisor, TimeSpan limit, Action<string> progress)
    {
        var psi = new ProcessStartInfo("dotnet", [cliDll, "run", config, "--exit-stats"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = repo,
        };
        var p = new Process { StartInfo = psi };
        long t0 = Clock.Now;
        long deadline = t0 + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        if (!p.Start())
        {
            throw new BenchException("could not start dotnet");
        }

        using (p)
        {
            var stderr = new StringBuilder();
            p.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is { } line)
                {
                    lock (stderr)
                    {
                        stderr.AppendLine(line);
                    }
                }
            };
            p.BeginErrorReadLine();
            var console = new TimedStream(p.StandardOutput.BaseStream);
            try
            {
                int initEnd = console.WaitFor(t => t.IndexOf(LinuxBootPoints.RunInit, StringComparison.Ordinal) is int i and >= 0 ? i + LinuxBootPoints.RunInit.Length : -1, deadline);
                progress(Report.Invariant($"Linux: \"{LinuxBootPoints.RunInit}\" after {Clock.Seconds(t0, console.TimeAt(initEnd)):0.0} s; waiting for the prompt ..."));
                int promptEnd = console.WaitFor(t => LinuxBootPoints.PromptEnd(t), deadline);
                long prompt = console.TimeAt(promptEnd);
                progress(Report.Invariant($"Linux: prompt after {Clock.Seconds(t0, prompt):0.0} s; typing lmbench-rows {divisor} ..."));

                int typedAt = console.Length;
                long typed = Clock.Now;
                p.StandardInput.Write(Report.Invariant($"lmbench-rows {divisor}\n"));
                p.StandardInput.Flush();
                int lmEnd = console.WaitFor(t =>
                {
                    LmbenchOutput o = LmbenchOutput.Parse(t[typedAt..]);
                    return o.Ended || o.Problem is not null || t.IndexOf("lmbench-rows: not found", typedAt, StringComparison.Ordinal) >= 0 ? t.Length : -1;
                }, deadline);
                long lmDone = console.TimeAt(lmEnd);
                string text = console.Text;
                LmbenchOutput lm = LmbenchOutput.Parse(text[typedAt..]);
                if (lm.Rows.Count == 0 && lm.Problem is null && !lm.Ended)
                {
                    lm = lm with { Problem = "the guest has no lmbench-rows (tools/linux-guest could not build it with gcc -static)" };
                }

                progress(Report.Invariant($"Linux: lmbench-rows took {Clock.Seconds(typed, lmDone):0.0} s; typing poweroff ..."));

                p.StandardInput.Write("poweroff\n");
                p.StandardInput.Flush();
                if (!p.WaitForExit(Math.Max(1, (int)((deadline - Clock.Now) * 1000 / Stopwatch.Frequency))))
                {
                    throw new BenchException("the Linux guest did not power off in time");
                }

                p.WaitForExit(); // the stderr reader drains
                string errors;
                lock (stderr)
                {
                    errors = stderr.ToString();
                }

                if (p.ExitCode != 0)
                {
                    throw new BenchException($"xensharp run {config} ended with exit status {p.ExitCode}:\n{Tail(errors)}");
                }

                string? exits = errors.Split('\n').FirstOrDefault(l => l.Contains(") exits: ", StringComparison.Ordinal))?.Trim();
                return new Result(
                    Clock.Seconds(t0, console.TimeAt(initEnd)),
                    Clock.Seconds(t0, prompt),
                    LinuxBootPoints.KernelRunInit(text),
                    LinuxBootPoints.InitDone(text),
                    lm,
                    Clock.Seconds(typed, lmDone),
                    exits);
            }
            catch (IOException e)
            {
                throw new BenchException($"xensharp run {config}: its console went away ({e.Message}); the end of its console:\n{Tail(console.Text)}");
            }
            catch (TimeoutException)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit();
                throw new BenchException(
                    Report.Invariant($"the Linux guest did not get through within {limit.TotalSeconds:0} s (--linux-timeout); the end of its console:\n{Tail(console.Text)}"));
            }
            finally
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                }
            }
        }
    }

    private static string Tail(string text) => string.Join('\n', text.Split('\n').TakeLast(15));

    /// <summary>A child's stdout read in raw chunks on a thread of its own, each chunk's arrival time kept.</summary>
    private sealed class TimedStream
    {
        private readonly StringBuilder _text = new();
        private readonly List<(int End, long At)> _chunks = new();
        private bool _closed;

        public TimedStream(Stream stream)
        {
            var thread = new Thread(() => Pump(stream)) { IsBackground = true, Name = "linux-console" };
            thread.Start();
        }

        public string Text
        {
            get
            {
                lock (_chunks)
                {
                    return _text.ToString();
                }
            }
        }

        public int Length
        {
            get
            {
                lock (_chunks)
                {
                    return _text.Length;
                }
            }
        }

        /// <summary>When the chunk that brought the text up to <paramref name="end"/> characters arrived.</summary>
        public long TimeAt(int end)
        {
            lock (_chunks)
            {
                return _chunks.First(c => c.End >= end).At;
            }
        }

        /// <summary>Waits until <paramref name="end"/> finds what it looks for (an end offset ≥ 0) in the text so far.</summary>
        public int WaitFor(Func<string, int> end, long deadline)
        {
            lock (_chunks)
            {
                while (true)
                {
                    int found = end(_text.ToString());
                    if (found >= 0)
                    {
                        return found;
                    }

                    long left = deadline - Clock.Now;
                    if (_closed)
                    {
                        throw new BenchException($"xensharp run ended before the expected console output; the end of its console:\n{Tail(_text.ToString())}");
                    }

                    if (left <= 0)
                    {
                        throw new TimeoutException();
                    }

                    Monitor.Wait(_chunks, TimeSpan.FromSeconds(Math.Min(1.0, (double)left / Stopwatch.Frequency)));
                }
            }
        }

        private void Pump(Stream stream)
        {
            Decoder utf8 = Encoding.UTF8.GetDecoder();
            var bytes = new byte[4096];
            var chars = new char[4097];
            int got;
            while ((got = stream.Read(bytes)) > 0)
            {
                long at = Clock.Now;
                int n = utf8.GetChars(bytes, 0, got, chars, 0);
                lock (_chunks)
                {
                    _text.Append(chars, 0, n);
                    _chunks.Add((_text.Length, at));
                    Monitor.PulseAll(_chunks);
                }
            }

            lock (_chunks)
            {
                _closed = true;
                Monitor.PulseAll(_chunks);
            }
        }
    }
}
