using System.Text.Json.Nodes;
using XenSharp.Abi;
using XenSharp.Toolstack.Daemon;
using Xunit;

namespace XenSharp.Tests.Daemon;

/// <summary>
/// on_poweroff, on_reboot and on_crash in the daemon, without KVM: a domain created paused is ended by a shutdown
/// request (as its own SCHEDOP_shutdown would) and the daemon applies its action — destroy, preserve (kept, paused,
/// listed as crashed), restart (a new instance under a new id, up to the cap, then destroyed) — and keeps a crashed
/// domain's last console lines in dmesg; a console asked just after a domain ended unwatched still gets its output.
/// </summary>
public sealed class DaemonLifecycleTests : IDisposable
{
    private static readonly TimeSpan Hang = TimeSpan.FromMinutes(2); // a guard against a hang, not a timed assertion

    private readonly DaemonFixture _daemon = new();

    public void Dispose() => _daemon.Dispose();

    /// <summary>Ends the domain's current instance with <paramref name="reason"/> and waits until the daemon has dealt with it.</summary>
    private async Task<string> End(string name, ShutdownReason reason)
    {
        ManagedDomain m = _daemon.Toolstack.Find(name)!;
        Task<string> finished = m.Finished.Task;
        Assert.True(_daemon.Hypervisor.Control.RequestShutdown(m.Id, reason));
        return await finished.WaitAsync(Hang);
    }

    private JsonArray List() => (JsonArray)_daemon.Request(new JsonObject { ["verb"] = "list" })["domains"]!;

    private IEnumerable<string> Dmesg() => ((JsonArray)_daemon.Request(new JsonObject { ["verb"] = "dmesg" })["lines"]!).Select(l => l!.GetValue<string>());

    [Fact]
    public async Task Poweroff_DestroysByDefault()
    {
        _daemon.CreatePaused("off");
        Assert.Equal("powered off", await End("off", ShutdownReason.Poweroff));
        Assert.Single(List()); // Domain-0
        Assert.Contains("(XEN) off: powered off", Dmesg());
    }

    [Fact]
    public async Task CrashWithPreserve_KeepsTheDomainPausedAndListedAsCrashed_UntilDestroyed()
    {
        _daemon.CreatePaused("keep", "on_crash = \"preserve\"\n");
        _daemon.Toolstack.Find("keep")!.Console.Write("last words\n"u8);
        Assert.StartsWith("crashed", await End("keep", ShutdownReason.Crash));

        JsonObject kept = (JsonObject)List()[1]!;
        Assert.Equal("keep", kept["name"]!.GetValue<string>());
        Assert.Equal("--psc-", XlOutput.State(kept));
        Assert.Contains("(XEN) keep console: last words", Dmesg());
        Assert.Contains(Dmesg(), l => l.Contains("keep: crashed (reported by the guest); preserved (on_crash=preserve)", StringComparison.Ordinal));

        _daemon.Request(new JsonObject { ["verb"] = "destroy", ["domain"] = "keep" });
        Assert.Single(List());
    }

    [Fact]
    public async Task CrashWithDestroy_LeavesTheConsoleTailInDmesg()
    {
        _daemon.CreatePaused("gone");
        _daemon.Toolstack.Find("gone")!.Console.Write("Kernel panic - not syncing\n"u8);
        await End("gone", ShutdownReason.Crash);
        Assert.Single(List());
        Assert.Contains("(XEN) gone console: Kernel panic - not syncing", Dmesg());
    }

    [Fact]
    public async Task RebootRestarts_UnderANewId_UpToTheCap_ThenDestroys()
    {
        int first = _daemon.CreatePaused("again");
        var ids = new List<int> { first };
        for (int i = 1; i <= 5; i++) // DaemonSettings.MaxRestarts
        {
            Assert.Equal("rebooted", await End("again", ShutdownReason.Reboot));
            JsonObject row = (JsonObject)List()[1]!;
            Assert.Equal("again", row["name"]!.GetValue<string>());
            ids.Add(row["domid"]!.GetValue<int>());
            Assert.Contains($"(XEN) again: rebooted; restarting ({i}/5)", Dmesg());
        }

        Assert.Equal(ids.Count, ids.Distinct().Count());
        await End("again", ShutdownReason.Reboot);
        Assert.Single(List());
        Assert.Contains("(XEN) again: rebooted; restarted 5 times, destroyed", Dmesg());
    }

    [Fact]
    public async Task AConsoleAskedJustAfterAnUnwatchedEnd_GetsTheOutputAndTheEnd_Once()
    {
        _daemon.CreatePaused("late");
        _daemon.Toolstack.Find("late")!.Console.Write("Test result: SUCCESS\n"u8);
        await End("late", ShutdownReason.Poweroff); // before `xl console` connected (xtf-runner starts it beside `xl unpause`)

        using (ControlClient client = _daemon.Connect())
        {
            await client.RequestAsync(new JsonObject { ["verb"] = "console", ["domain"] = "late" });
            Assert.Equal("Test result: SUCCESS\n", await new StreamReader(client.Stream).ReadToEndAsync());
        }

        Assert.Equal("late is an invalid domain identifier (rc=-6)", Assert.Throws<DaemonException>(
            () => _daemon.Request(new JsonObject { ["verb"] = "console", ["domain"] = "late" })).Message); // once
        Assert.Single(List());
    }

    [Fact]
    public async Task ADomainThatEndedWatched_OrWasDestroyed_KeepsNoConsole()
    {
        _daemon.CreatePaused("watched");
        using (ControlClient client = _daemon.Connect())
        {
            await client.RequestAsync(new JsonObject { ["verb"] = "console", ["domain"] = "watched" });
            _daemon.Toolstack.Find("watched")!.Console.Write("x\n"u8);
            Assert.Equal('x', (char)client.Stream.ReadByte()); // attached
            await End("watched", ShutdownReason.Poweroff);
            Assert.Equal("\n", await new StreamReader(client.Stream).ReadToEndAsync());
        }

        _daemon.CreatePaused("destroyed");
        _daemon.Request(new JsonObject { ["verb"] = "destroy", ["domain"] = "destroyed" });
        foreach (string name in new[] { "watched", "destroyed" })
        {
            Assert.Equal($"{name} is an invalid domain identifier (rc=-6)", Assert.Throws<DaemonException>(
                () => _daemon.Request(new JsonObject { ["verb"] = "console", ["domain"] = name })).Message);
        }
    }

    [Fact]
    public async Task RebootWithDestroy_Destroys()
    {
        _daemon.CreatePaused("once", "on_reboot = \"destroy\"\n");
        await End("once", ShutdownReason.Reboot);
        Assert.Single(List());
    }
}
