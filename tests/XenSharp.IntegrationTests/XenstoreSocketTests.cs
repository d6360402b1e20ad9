using System.Net.Sockets;
using XenSharp.Abi;
using XenSharp.IntegrationTests.Support;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>`xensharp run --xenstore-socket`: host tools reach the running domains' store in xenstored's wire format.</summary>
public class XenstoreSocketTests
{
    /// <summary>
    /// The guest (conin) waits for a line on its console for as long as it takes, and the run has no --timeout: the
    /// test talks to the store for as long as it needs, then types the line that ends the run. No clock can end the
    /// domain under the client (a spinning guest with --timeout 20 once did, on an emulated CPU).
    /// </summary>
    [KvmFact]
    public async Task Run_WithXenstoreSocket_ServesTheStoreWhileTheDomainsRun()
    {
        using var dir = new TempDir();
        string cfg = dir.Config("waiter.cfg", RepoPaths.Guest("conin"));
        string socketPath = Path.Combine(dir.Path, "run", "socket");
        using CliRun run = CliProcess.Start(["run", cfg, "--pool-mb", "256", "--xenstore-socket", socketPath]);

        await Limits.Until(() => StoreSocketClient.Listening(socketPath) || run.HasExited, Limits.Generous, "the xenstore socket");
        Assert.False(run.HasExited, run.HasExited ? (await run.WaitAsync(Limits.Generous)).ToString() : "");
        using (var s = new StoreSocketClient(socketPath))
        {
            // The socket opens before the domain's nodes are written.
            await Limits.Until(() => s.Request(XsMessageType.Read, "/local/domain/1/name\0") == (XsMessageType.Read, "waiter"), Limits.Generous, "the domain's name in the store");

            // As with xl, the toolstack writes a domain's nodes first and introduces it to the store after.
            await Limits.Until(
                () => s.Request(XsMessageType.IsDomainIntroduced, "1\0") == (XsMessageType.IsDomainIntroduced, "T\0"), Limits.Generous, "the domain's introduction");
            Assert.Equal((XsMessageType.Write, "OK\0"), s.Request(XsMessageType.Write, "/local/domain/1/data/from-host\0hi"));
            Assert.False(run.HasExited);
        }

        await run.TypeAsync("done\n");
        CliResult r = await run.WaitAsync(Limits.Generous);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("[PASS] conin: got 'done'", Guests.Lines(r.Stdout));
        Assert.False(File.Exists(socketPath));
    }

    /// <summary>
    /// Ctrl-C (SIGINT) or a kill (SIGTERM) ends the run at once, and the socket goes with it. The path held a stale
    /// socket from an earlier run, which the run replaced.
    /// </summary>
    [KvmTheory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task Run_EndedBySignal_RemovesTheXenstoreSocket(string signal)
    {
        using var dir = new TempDir();
        string cfg = dir.Config("spinner.cfg", RepoPaths.Guest("hostile"), extra: "extra = \"hostile=spin\"\n");
        string socketPath = Path.Combine(dir.Path, "socket");
        using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            stale.Bind(new UnixDomainSocketEndPoint(socketPath));
            File.Move(socketPath, socketPath + ".kept"); // .NET removes the file it bound on Dispose; keep it as a stale socket
        }

        File.Move(socketPath + ".kept", socketPath);
        int pid = 0;
        Task<CliResult> run = CliProcess.RunAsync(["run", cfg, "--timeout", "120", "--pool-mb", "256", "--xenstore-socket", socketPath], started: p => pid = p);

        await Limits.Until(() => StoreSocketClient.Listening(socketPath) || run.IsCompleted, Limits.Generous, "the xenstore socket");
        Assert.False(run.IsCompleted, run.IsCompleted ? run.Result.ToString() : "");
        CliProcess.Signal(pid, signal);
        CliResult r = await run;

        Assert.NotEqual(124, r.ExitCode); // ended by the signal, not by --timeout
        Assert.False(File.Exists(socketPath), r.ToString());
    }
}
