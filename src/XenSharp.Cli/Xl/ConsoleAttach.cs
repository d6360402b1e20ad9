using System.Diagnostics;
using System.Text.Json.Nodes;
using XenSharp.Toolstack.Daemon;

namespace XenSharp.Cli.Xl;

/// <summary>
/// `xensharp console DOMAIN` (xl console): the domain's console on this terminal until Ctrl-] (or the domain goes).
/// On a terminal it is switched to raw mode (stty raw -echo) so every key reaches the guest, and restored after; piped
/// input is sent as it comes, and its end leaves the output flowing until Ctrl-] or the domain's end.
/// </summary>
public static class ConsoleAttach
{
    public static int Run(string? socket, string domain)
    {
        using ControlClient client = ControlClient.Connect(socket);
        client.Request(new JsonObject { ["verb"] = "console", ["domain"] = domain });
        string? saved = Console.IsInputRedirected ? null : Stty("-g")?.Trim();
        if (saved is not null)
        {
            Stty("raw -echo");
        }

        try
        {
            using var done = new CancellationTokenSource();
            Stream stdout = Console.OpenStandardOutput();
            Task output = Task.Run(async () =>
            {
                byte[] buffer = new byte[4096];
                int got;
                while ((got = await client.Stream.ReadAsync(buffer, done.Token)) > 0)
                {
                    await stdout.WriteAsync(buffer.AsMemory(0, got), done.Token);
                    await stdout.FlushAsync(done.Token);
                }
            });
            Task<bool> input = Task.Run(async () =>
            {
                Stream stdin = Console.OpenStandardInput();
                byte[] buffer = new byte[4096];
                int got;
                while ((got = await stdin.ReadAsync(buffer, done.Token)) > 0)
                {
                    int detach = Array.IndexOf(buffer, ConsoleHub.Detach, 0, got);
                    await client.Stream.WriteAsync(buffer.AsMemory(0, detach < 0 ? got : detach + 1), done.Token);
                    if (detach >= 0)
                    {
                        return true;
                    }
                }

                return false;
            });
            Task first = Task.WhenAny(output, input).GetAwaiter().GetResult();
            if (first == input && input.IsCompletedSuccessfully && !input.Result)
            {
                output.ContinueWith(_ => { }, TaskScheduler.Default).Wait(); // input ended without Ctrl-]: output goes on to its end
            }

            done.Cancel();
            return 0;
        }
        finally
        {
            if (saved is not null)
            {
                Stty(saved);
                Console.Out.WriteLine();
            }
        }
    }

    private static string? Stty(string arguments)
    {
        var psi = new ProcessStartInfo("stty", arguments) { UseShellExecute = false, RedirectStandardOutput = true };
        try
        {
            using Process p = Process.Start(psi)!;
            string text = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? text : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
