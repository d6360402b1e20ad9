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
        string[] lines = Guests.Lines(consdup.Transcript);
        Assert.Contains("consdup: ring only", lines); // served by the backend's loop: before or after the later lines
        Assert.Contains(Guests.Success, lines);
        Assert.Equal(7, lines.Length);
        Assert.Equal(DomainOutcome.TimedOut, flood.ExitCode);
        Assert.Equal("hostile: notify-flood\n", flood.Transcript);
    }
}
