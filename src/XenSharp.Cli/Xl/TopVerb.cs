using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using XenSharp.Toolstack.Daemon;

namespace XenSharp.Cli.Xl;

/// <summary>
/// `xensharp top` (xl top, xentop): every domain's state, CPU %, memory, vCPUs, network and block figures, refreshed
/// every --delay seconds.
/// On a terminal a live table (Spectre.Console) redrawn in place until q or Ctrl-C; with -b (or output not to a
/// terminal) xentop's batch lines, a header and a row per domain each round, for -i rounds (default: until stopped).
/// </summary>
public static class TopVerb
{
    public static Command Create()
    {
        var batch = new Option<bool>("--batch", "-b") { Description = "Batch mode: xentop's lines on standard output, no terminal control" };
        var iterations = new Option<int?>("--iterations", "-i") { Description = "Rounds to show, then exit (default: until stopped)" };
        var delay = new Option<double?>("--delay", "-d") { Description = "Seconds between rounds (default 3)" };
        var cmd = new Command("top", "A live view of the domains, like xentop");
        cmd.Options.Add(batch);
        cmd.Options.Add(iterations);
        cmd.Options.Add(delay);
        cmd.SetAction(r =>
        {
            double seconds = r.GetValue(delay) ?? 3;
            if (!(seconds > 0 && seconds <= 86400))
            {
                Console.Error.WriteLine("top: --delay must be more than 0 seconds, at most a day");
                return 2;
            }

            int rounds = r.GetValue(iterations) ?? int.MaxValue;
            try
            {
                using ControlClient client = ControlClient.Connect(r.GetValue(XlVerbs.SocketOption));
                long totalKb = TotalMemoryKb(client);
                if (r.GetValue(batch) || Console.IsOutputRedirected)
                {
                    Batch(client, totalKb, rounds, TimeSpan.FromSeconds(seconds));
                }
                else
                {
                    Live(client, totalKb, rounds, TimeSpan.FromSeconds(seconds));
                }

                return 0;
            }
            catch (DaemonException e)
            {
                Console.Error.WriteLine(e.Message);
                return 1;
            }
        });
        return cmd;
    }

    private static long TotalMemoryKb(ControlClient client)
    {
        JsonArray fields = (JsonArray)client.Request(new JsonObject { ["verb"] = "info" })["fields"]!;
        string? total = fields.OfType<JsonArray>().FirstOrDefault(f => f[0]?.GetValue<string>() == "total_memory")?[1]?.GetValue<string>();
        return long.TryParse(total, NumberStyles.None, CultureInfo.InvariantCulture, out long mib) ? mib * 1024 : 0;
    }

    /// <summary>Samples the daemon each round: the rows, with CPU % against the round before.</summary>
    private static IEnumerable<IReadOnlyList<XenTop.Row>> Rounds(ControlClient client, long totalKb, int rounds, TimeSpan delay)
    {
        JsonArray? previous = null;
        long previousAt = 0;
        for (int i = 0; i < rounds; i++)
        {
            if (i > 0)
            {
                Thread.Sleep(delay);
            }

            long at = Stopwatch.GetTimestamp();
            JsonArray current = (JsonArray)client.Request(new JsonObject { ["verb"] = "list" })["domains"]!;
            long elapsedNs = previous is null ? 0 : (long)Stopwatch.GetElapsedTime(previousAt, at).TotalNanoseconds;
            yield return XenTop.Rows(previous, current, elapsedNs, totalKb);
            previous = current;
            previousAt = at;
        }
    }

    private static void Batch(ControlClient client, long totalKb, int rounds, TimeSpan delay)
    {
        foreach (IReadOnlyList<XenTop.Row> rows in Rounds(client, totalKb, rounds, delay))
        {
            Console.WriteLine(XenTop.Header);
            foreach (XenTop.Row row in rows)
            {
                Console.WriteLine(XenTop.Line(row));
            }

            Console.Out.Flush();
        }
    }

    private static void Live(ControlClient client, long totalKb, int rounds, TimeSpan delay)
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (string column in new[] { "NAME", "STATE", "CPU(sec)", "CPU(%)", "MEM(k)", "MEM(%)", "MAXMEM(k)", "VCPUS", "NETS", "NETTX(k)", "NETRX(k)", "VBDS", "VBD_RD", "VBD_WR", "VBD_RSECT", "VBD_WSECT" })
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        using var quit = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            quit.Cancel();
        };
        var keys = new Thread(() =>
        {
            while (!quit.IsCancellationRequested)
            {
                if (Console.ReadKey(intercept: true).KeyChar is 'q' or 'Q')
                {
                    quit.Cancel();
                }
            }
        }) { IsBackground = true };
        keys.Start();
        AnsiConsole.Live(table).Start(ctx =>
        {
            foreach (IReadOnlyList<XenTop.Row> rows in Rounds(client, totalKb, rounds, TimeSpan.Zero))
            {
                table.Rows.Clear();
                foreach (XenTop.Row r in rows)
                {
                    table.AddRow(
                        Markup.Escape(r.Name), r.State, Invariant(r.CpuSeconds), Invariant(r.CpuPercent, "F1"), Invariant(r.MemKb),
                        Invariant(r.MemPercent, "F1"), Invariant(r.MaxMemKb), Invariant(r.Vcpus), Invariant(r.Nets), Invariant(r.NetTxKb),
                        Invariant(r.NetRxKb), Invariant(r.Vbds), Invariant(r.VbdRd), Invariant(r.VbdWr), Invariant(r.VbdRsect), Invariant(r.VbdWsect));
                }

                table.Caption($"xensharp top: {rows.Count} domains; q quits");
                ctx.Refresh();
                if (quit.Token.WaitHandle.WaitOne(delay))
                {
                    return;
                }
            }
        });
    }

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Invariant(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
