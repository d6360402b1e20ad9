using System.Diagnostics;
using Xunit;

namespace XenSharp.Tests.Tools;

/// <summary>
/// tools/trx-count, the one place ./run-tests and tests/hwkvm/run count results: from each test's outcome (skips
/// included, whatever the TRX's Counters say), missing results as failures, every skipped test shown.
/// </summary>
public sealed class TrxCountTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("xensharp-trx-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void CountsPassesFailuresAndSkipsFromTheOutcomesNotTheCounters()
    {
        (int exit, string[] lines, _) = Run(Trx("mixed", TrxFixtures.Mixed));

        Assert.Equal(1, exit);
        Assert.Equal(["1 skipped: needs /dev/kvm, which this host does not have", "1 skipped: not on Tuesdays", "2 passed, 1 failed, 2 skipped"], lines);
    }

    [Fact]
    public void CountersThatSayNothingWasSkippedDoNotHideTheSkips()
    {
        (int exit, string[] lines, string stderr) = Run(Trx("lying", TrxFixtures.LyingCounters));

        Assert.Equal(0, exit);
        Assert.Equal(["2 skipped: no /dev/kvm on this host", "1 passed, 0 failed, 2 skipped"], lines);
        Assert.Equal("", stderr);
    }

    [Fact]
    public void SeveralFilesAddUp()
    {
        (int exit, string[] lines, _) = Run(Trx("mixed", TrxFixtures.Mixed), Trx("lying", TrxFixtures.LyingCounters));

        Assert.Equal(1, exit);
        Assert.Equal("3 passed, 1 failed, 4 skipped", lines[^1]);
        Assert.Equal("2 skipped: no /dev/kvm on this host", lines[0]);
    }

    [Fact]
    public void SkippedListsEachSkippedTestWithItsReason()
    {
        (_, string[] lines, _) = Run("--skipped", Trx("mixed", TrxFixtures.Mixed));

        Assert.Equal(
            [
                "SKIP Demo.Tests.Boots",
                "    needs /dev/kvm, which this host does not have",
                "SKIP Demo.Tests.Waits",
                "    not on Tuesdays",
            ],
            lines[..4]);
    }

    [Fact]
    public void TestsListsEveryTestTaggedWithTheFailuresMessageAndTheKvmKind()
    {
        (_, string[] lines, _) = Run("--tests", "--tag", "[kvm_amd]", Trx("mixed", TrxFixtures.Mixed));

        Assert.Equal(
            [
                "PASS Demo.Tests.Adds(a: 1, b: \"two\") [kvm_amd]",
                "SKIP Demo.Tests.Boots [kvm_amd]",
                "    needs /dev/kvm, which this host does not have",
                "FAIL Demo.Tests.Breaks [kvm_amd]",
                "    Assert.Equal() Failure: Values differ",
                "    Expected: 1",
                "    Actual:   2",
                "    at Demo.Tests.Breaks() in Tests.cs:line 12",
                "PASS Demo.Tests.Counts [kvm_amd]",
                "    KVM kind: Amd",
                "SKIP Demo.Tests.Waits [kvm_amd]",
                "    not on Tuesdays",
                "1 skipped: needs /dev/kvm, which this host does not have",
                "1 skipped: not on Tuesdays",
                "2 passed, 1 failed, 2 skipped",
            ],
            lines);
    }

    [Fact]
    public void ResultsTheCountersMissAreFailures()
    {
        (int exit, string[] lines, string stderr) = Run(Trx("crashed", TrxFixtures.CrashedHost));

        Assert.Equal(1, exit);
        Assert.Equal(["1 passed, 1 failed, 0 skipped"], lines);
        Assert.Contains("results are missing", stderr);
    }

    [Fact]
    public void ANonZeroExitWithNothingFailedIsAFailure()
    {
        (int exit, string[] lines, string stderr) = Run("--exit-code", "1", Trx("lying", TrxFixtures.LyingCounters));

        Assert.Equal(1, exit);
        Assert.Equal("1 passed, 1 failed, 2 skipped", lines[^1]);
        Assert.Contains("the exit status of dotnet test is 1", stderr);
    }

    [Fact]
    public void ANonZeroExitDoesNotAddToRealFailures()
    {
        (_, string[] lines, _) = Run("--exit-code", "1", Trx("mixed", TrxFixtures.Mixed));

        Assert.Equal("2 passed, 1 failed, 2 skipped", lines[^1]);
    }

    [Theory]
    [InlineData("an empty TRX", "no test results")]
    [InlineData("a TRX that is not there", "no TRX at")]
    [InlineData("no TRX named", "no TRX to count")]
    public void NoResultsAtAllAreAFailure(string what, string message)
    {
        string[] args = what switch
        {
            "an empty TRX" => [Trx("empty", TrxFixtures.Empty)],
            "a TRX that is not there" => [Path.Combine(_directory, "absent.trx")],
            _ => [],
        };

        (int exit, string[] lines, string stderr) = Run(args);

        Assert.Equal(1, exit);
        Assert.Equal(["0 passed, 1 failed, 0 skipped"], lines);
        Assert.Contains(message, stderr);
    }

    private string Trx(string name, string contents)
    {
        string path = Path.Combine(_directory, name + ".trx");
        File.WriteAllText(path, contents);
        return path;
    }

    private static (int Exit, string[] Lines, string Stderr) Run(params string[] args)
    {
        var psi = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(RepoRoot, "tools", "trx-count"));
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start bash");
        process.StandardInput.Close();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string[] lines = stdout.EndsWith('\n') ? stdout[..^1].Split('\n') : stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return (process.ExitCode, lines, stderr.Result);
    }

    /// <summary>The directory that holds XenSharp.slnx, above this assembly's.</summary>
    private static string RepoRoot
    {
        get
        {
            for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "XenSharp.slnx")))
                {
                    return d.FullName;
                }
            }

            throw new DirectoryNotFoundException($"no directory above {AppContext.BaseDirectory} holds XenSharp.slnx");
        }
    }
}
