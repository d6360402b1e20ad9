using System.Diagnostics;
using XenSharp.IntegrationTests.Support;
using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>One C test guest at a time in an in-process hypervisor on KVM, run as `xensharp run` runs it.</summary>
public sealed class GuestBootTests
{
    [KvmFact]
    public async Task Hello_PrintsTheGreetingAndPowersOff()
    {
        using var host = new KvmHost();
        ulong free = host.Hypervisor.Pool.FreeFrames;

        DomainOutcome o = Assert.Single(await host.RunAsync([Guests.Config("hello", "hello")], Limits.Generous));

        Assert.Equal(DomainOutcome.Poweroff, o.ExitCode);
        Assert.Equal("powered off", o.Ending);
        string[] lines = Guests.Lines(o.Transcript);
        Assert.Equal(3, lines.Length);
        Assert.Equal(Guests.Greeting, lines[0]);
        Assert.Matches(@"^Xen version \d+\.\d+$", lines[1]);
        Assert.Equal(Guests.Success, lines[2]);
        // One domain: its lines reach the terminal unprefixed.
        Assert.Equal(o.Transcript, host.Console.Text);
        Assert.Contains("shutdown: poweroff", host.Log);
        Assert.Contains("hello: powered off", host.Log);
        Assert.Empty(host.Hypervisor.Domains);
        Assert.Equal(free, host.Hypervisor.Pool.FreeFrames);
    }

    [KvmFact]
    public async Task Hypercalls_AllChecksPass()
    {
        using var host = new KvmHost();

        DomainOutcome o = Assert.Single(await host.RunAsync([Guests.Config("hypercalls", "hypercalls")], Limits.Generous));

        string[] lines = Guests.Lines(o.Transcript);
        Assert.DoesNotContain(lines, l => l.StartsWith("[FAIL]", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("[ERROR]", StringComparison.Ordinal));
        Assert.True(lines.Count(l => l.StartsWith("[PASS]", StringComparison.Ordinal)) >= 10, o.Transcript);
        Assert.Equal(Guests.Success, lines[^1]);
        Assert.Equal(DomainOutcome.Poweroff, o.ExitCode);
    }

    [KvmFact]
    public async Task Consdup_LinesWrittenToConsoleIoAndAsCrlfToTheRingAppearOnce()
    {
        using var host = new KvmHost();

        DomainOutcome o = Assert.Single(await host.RunAsync([Guests.Config("consdup", "consdup")], Limits.Generous));

        Assert.Equal(DomainOutcome.Poweroff, o.ExitCode);

        // Every line once. The ring is served on the console backend's own loop and console_io on the vCPU, so a line
        // that only the ring carries may come out before or after console_io's later lines (as on Xen, where the two
        // are different outputs altogether); the others keep their order.
        const string RingOnly = "consdup: ring only";
        string[] lines = Guests.Lines(o.Transcript);
        Assert.Single(lines, l => l == RingOnly);
        Assert.Equal(
            ["consdup: console_io only", "consdup: early 1", "consdup: early 2", "consdup: late 1", "consdup: late 2", Guests.Success],
            lines.Where(l => l != RingOnly).ToArray());
    }

    [KvmFact]
    public async Task Crash_EndsCrashedAsReportedByTheGuest()
    {
        using var host = new KvmHost();

        DomainOutcome o = Assert.Single(await host.RunAsync([Guests.Config("crash", "crash")], Limits.Generous));

        Assert.Equal(DomainOutcome.Crashed, o.ExitCode);
        Assert.Contains("reported by the guest", o.Ending);
        Assert.Equal("crash guest: reporting a crash\n", o.Transcript);
        Assert.Contains("shutdown: crash", host.Log);
        Assert.Contains("(XEN) crash console: crash guest: reporting a crash\n", host.Log); // the last console lines follow the verdict
        Assert.Empty(host.Hypervisor.Domains);
    }

    [KvmTheory]
    [MemberData(nameof(HostileModes.Crashing), MemberType = typeof(HostileModes))]
    public async Task Hostile_IsCrashedWithAReasonNamingTheOffendingInstruction(string mode)
    {
        using var host = new KvmHost();
        ulong free = host.Hypervisor.Pool.FreeFrames;

        DomainOutcome o = Assert.Single(await host.RunAsync([Guests.Hostile("hostile", mode)], Limits.Generous));

        Assert.Equal(DomainOutcome.Crashed, o.ExitCode);
        Assert.StartsWith("crashed: ", o.Ending);
        string reason = o.Ending["crashed: ".Length..];
        Assert.DoesNotContain("reported by the guest", o.Ending);
        HostileModes.AssertNamesOffender(mode, reason);
        Assert.Contains($"domain crashed: {reason}", host.Log);
        HostileModes.AssertNamesOffender(mode, host.Log);
        Assert.Equal($"hostile: {mode}\n", o.Transcript);
        Assert.Equal(free, host.Hypervisor.Pool.FreeFrames);

        // The hypervisor is unharmed: the next domain boots and powers off normally.
        DomainOutcome after = Assert.Single(await host.RunAsync([Guests.Config("hello", "hello")], Limits.Generous));
        Assert.Equal(DomainOutcome.Poweroff, after.ExitCode);
        Assert.EndsWith(Guests.Success + "\n", after.Transcript);
        Assert.Equal(free, host.Hypervisor.Pool.FreeFrames);
    }

    [KvmFact]
    public async Task HostileSpin_IsDestroyedByTheTimeout()
    {
        TimeSpan timeout = Limits.SpinTimeout;
        var clock = Stopwatch.StartNew();
        DomainOutcome o;
        string log;
        using (var host = new KvmHost())
        {
            ulong free = host.Hypervisor.Pool.FreeFrames;
            o = Assert.Single(await host.RunAsync([Guests.Hostile("spinner", "spin")], timeout));
            clock.Stop();
            log = host.Log;
            Assert.Empty(host.Hypervisor.Domains);
            Assert.Equal(free, host.Hypervisor.Pool.FreeFrames);
        }

        Assert.Equal(DomainOutcome.TimedOut, o.ExitCode);
        Assert.Equal("timed out", o.Ending);
        Assert.Equal("hostile: spin\n", o.Transcript);
        Assert.Contains($"spinner: still running after {timeout.TotalSeconds:0.#} s: destroyed", log);
        // Not before its time (how long after is not asserted: that measures the machine). The slack is the clocks'
        // granularity: the run's deadline is taken after the stopwatch starts.
        Assert.True(clock.Elapsed >= timeout - TimeSpan.FromMilliseconds(100), $"destroyed after {clock.Elapsed}, before its {timeout} timeout");
    }
}
