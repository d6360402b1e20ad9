using System.Diagnostics;
using System.Runtime.InteropServices;

namespace XenSharp.Cli;

/// <summary>
/// Runs a program in this process's place: same terminal and standard streams (inherited, so the terminal keeps its
/// mode), its exit status returned. SIGINT, SIGTERM, SIGHUP and SIGQUIT do not end this process; they are passed on
/// to the child (which also gets a terminal's Ctrl-C itself, being in the same process group) and this process waits
/// for it to clean up and exit.
/// </summary>
public static class ForegroundChild
{
    private static readonly (PosixSignal Signal, string Name, int Number)[] Forwarded =
        [(PosixSignal.SIGINT, "INT", 2), (PosixSignal.SIGTERM, "TERM", 15), (PosixSignal.SIGHUP, "HUP", 1), (PosixSignal.SIGQUIT, "QUIT", 3)];

    public static int Run(string program, IReadOnlyList<string> arguments)
    {
        var psi = new ProcessStartInfo(program) { UseShellExecute = false };
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        var gate = new object();
        Process? child = null;
        int? before = null; // a signal that came before the child started: it is not started at all
        var registrations = new List<PosixSignalRegistration>();
        try
        {
            foreach ((PosixSignal signal, string name, int number) in Forwarded)
            {
                registrations.Add(PosixSignalRegistration.Create(signal, context =>
                {
                    context.Cancel = true;
                    lock (gate)
                    {
                        if (child is null)
                        {
                            before ??= 128 + number;
                        }
                        else
                        {
                            Pass(name, child.Id);
                        }
                    }
                }));
            }

            lock (gate)
            {
                if (before is { } status)
                {
                    return status;
                }

                child = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {program}");
            }

            child.WaitForExit();
            return child.ExitCode;
        }
        finally
        {
            foreach (PosixSignalRegistration r in registrations)
            {
                r.Dispose();
            }

            child?.Dispose();
        }
    }

    /// <summary>kill -NAME pid, through the shell's builtin (.NET sends no other signal than SIGKILL).</summary>
    private static void Pass(string name, int pid)
    {
        try
        {
            var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add($"kill -{name} {pid} 2>/dev/null");
            using Process? kill = Process.Start(psi);
            kill?.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No shell: the child still gets a terminal's signals itself.
        }
    }
}
