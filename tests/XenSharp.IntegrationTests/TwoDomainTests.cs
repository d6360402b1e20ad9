using XenSharp.IntegrationTests.Support;
using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>A hostile domain and a well-behaved one in the same hypervisor at the same time.</summary>
public sealed class TwoDomainTests
{
    [KvmTheory]
    [MemberData(nameof(HostileModes.All), MemberType = typeof(HostileModes))]
    public async Task HostileNextToHello_OnlyTheHostileOneSuffers(string mode)
    {
        using var host = new KvmHost();
        ulong free = host.Hypervisor.Pool.FreeFrames;
        bool spin = mode == "spin";
        // The spinner ends only by the run's timeout; hello must power off before it (Limits.SpinTimeout).
        TimeSpan timeout = spin ? Limits.SpinTimeout : Limits.Generous;

        IReadOnlyList<DomainOutcome> outcomes = await host.RunAsync([Guests.Hostile("hostile", mode), Guests.Config("hello", "hello")], timeout);

        DomainOutcome hostile = Assert.Single(outcomes, o => o.Name == "hostile");
        DomainOutcome hello = Assert.Single(outcomes, o => o.Name == "hello");

        Assert.Equal(DomainOutcome.Poweroff, hello.ExitCode);
        Assert.Equal("powered off", hello.Ending);
        string[] helloLines = Guests.Lines(hello.Transcript);
        Assert.Equal(3, helloLines.Length);
        Assert.Equal(Guests.Greeting, helloLines[0]);
        Assert.Matches(@"^Xen version \d+\.\d+$", helloLines[1]);
        Assert.Equal(Guests.Success, helloLines[2]);

        Assert.Equal($"hostile: {mode}\n", hostile.Transcript);
        if (spin)
        {
            Assert.Equal(DomainOutcome.TimedOut, hostile.ExitCode);
            Assert.Equal(DomainOutcome.TimedOut, RunSession.ExitCode(outcomes));
        }
        else
        {
            Assert.Equal(DomainOutcome.Crashed, hostile.ExitCode);
            Assert.StartsWith("crashed: ", hostile.Ending);
            HostileModes.AssertNamesOffender(mode, hostile.Ending);
            Assert.Contains($"domain crashed: {hostile.Ending["crashed: ".Length..]}", host.Log);
            Assert.Equal(DomainOutcome.Crashed, RunSession.ExitCode(outcomes));
        }

        // Several domains share the terminal: every line carries its domain's name, and each domain's lines are whole.
        string[] terminal = Guests.Lines(host.Console.Text);
        Assert.All(terminal, l => Assert.True(l.StartsWith("[hello] ", StringComparison.Ordinal) || l.StartsWith("[hostile] ", StringComparison.Ordinal), l));
        Assert.Equal(helloLines.Select(l => "[hello] " + l), terminal.Where(l => l.StartsWith("[hello] ", StringComparison.Ordinal)));
        Assert.Equal([$"[hostile] hostile: {mode}"], terminal.Where(l => l.StartsWith("[hostile] ", StringComparison.Ordinal)));

        Assert.Empty(host.Hypervisor.Domains);
        Assert.Equal(free, host.Hypervisor.Pool.FreeFrames);
    }

    /// <summary>
    /// A guest that notifies its console and store backends without end (every notify only posts to the backend's own
    /// loop) beside consdup, whose console lines go through its ring, served by its own console backend: consdup's
    /// output comes whole and it powers off before the flood's timeout ends the run.
    /// </summary>
    [KvmFact]
    public async Task NotifyFloodBesideARingConsole_TheOtherConsoleIsServed()
    {
        using var host = new KvmHost();

        IReadOnlyList<DomainOutcome> outcomes = await host.RunAsync(
            [Guests.Hostile("flood", "notify-flood"), Guests.Config("consdup", "consdup")], Limits.SpinTimeout);

        DomainOutcome flood = Assert.Single(outcomes, o => o.Name == "flood");
        DomainOutcome consdup = Assert.Single(outcomes, o => o.Name == "consdup");
        Assert.True(consdup.ExitCode == DomainOutcome.Poweroff, $"{consdup.Ending}\n{consdup.Transcript}");
        // Served: every line consdup writes comes out (the ring-only one through the backend's loop). How many times is
        // the console mux's business, checked alone by GuestBootTests' consdup test: a ring read late under the flood
        // once printed 11 lines here (2026-12-07, lane), not yet understood (docs/testing.md, "Known flakes").
        string[] lines = Guests.Lines(consdup.Transcript);
        string[] expected =
        [
            "consdup: console_io only", "consdup: early 1", "consdup: early 2", "consdup: late 1", "consdup: late 2",
            "consdup: ring only", Guests.Success,
        ];
        foreach (string line in expected)
        {
            Assert.True(lines.Contains(line), $"consdup's \"{line}\" missing; its console:\n{consdup.Transcript}");
        }

        Assert.True(lines.All(expected.Contains), $"consdup printed a line it never wrote; its console:\n{consdup.Transcript}");
        Assert.Equal(DomainOutcome.TimedOut, flood.ExitCode);
        Assert.Equal("hostile: notify-flood\n", flood.Transcript);
    }
}
