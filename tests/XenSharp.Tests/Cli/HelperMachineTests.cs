using System.CommandLine;
using XenSharp.Cli;
using Xunit;

namespace XenSharp.Tests.Cli;

/// <summary>How `xensharp run` hands itself to the helper machine: the inner command line, what is carried over its /tmp, the limits.</summary>
public class HelperMachineTests
{
    private static IReadOnlyList<string> Forwarded(params string[] args)
    {
        Command run = RunVerb.Create();
        var root = new RootCommand { run };
        ParseResult parse = root.Parse(args);
        Assert.Empty(parse.Errors);
        Option<bool> emulate = Assert.IsType<Option<bool>>(run.Options.Single(o => o.Name == HelperMachine.OptionName), exactMatch: false);
        return HelperMachine.ForwardedArguments(parse, emulate);
    }

    [Theory]
    [InlineData("run --emulate examples/hello.cfg", "run examples/hello.cfg")]
    [InlineData("run examples/hello.cfg --emulate --timeout 5", "run examples/hello.cfg --timeout 5")]
    [InlineData("run a.cfg b.cfg --pool-mb 256 --emulate", "run a.cfg b.cfg --pool-mb 256")]
    [InlineData("run examples/hello.cfg", "run examples/hello.cfg")]
    public void TheInnerRunGetsTheSameArgumentsWithoutEmulate(string outer, string inner)
    {
        Assert.Equal(inner.Split(' '), Forwarded(outer.Split(' ')));
    }

    [Fact]
    public void ArgumentsWithSpacesAndOptionValuesStayWhole()
    {
        Assert.Equal(["run", "my guests/a b.cfg", "--timeout", "5", "--xenstore-socket", "/run/x s"],
            Forwarded("run", "my guests/a b.cfg", "--emulate", "--timeout=5", "--xenstore-socket", "/run/x s"));
    }

    [Fact]
    public void EmulateTakesNoValue()
    {
        // `--emulate a.cfg`: a.cfg is a config, not the option's value.
        Assert.Equal(["run", "a.cfg"], Forwarded("run", "--emulate", "a.cfg"));
    }

    [Fact]
    public void CarriedPaths_AreTheEntriesRightBelowTmpAndRun_Once()
    {
        IReadOnlyList<string> carried = HelperMachine.CarriedPaths(
            ["/srv/repo", "/tmp/ci.1/repo", "/tmp/ci.1/repo/guests/build/hello.elf", "/tmp/conin.cfg", "/run/user/0/k.elf", "relative.cfg", "/tmpx/a", ""]);

        Assert.Equal(["/tmp/ci.1", "/tmp/conin.cfg", "/run/user"], carried);
    }

    [Fact]
    public void CarriedPaths_TmpItselfCoversWhatIsBelowIt()
    {
        Assert.Equal(["/tmp"], HelperMachine.CarriedPaths(["/tmp/a/b", "/tmp/", "/tmp/c"]));
    }

    [Fact]
    public void Deadline_NoneWithoutTimeout_GenerousWithIt()
    {
        Assert.Null(HelperMachine.DeadlineSeconds(null));
        Assert.Equal(5 + (int)HelperMachine.DeadlineMargin.TotalSeconds, HelperMachine.DeadlineSeconds(5));
        Assert.Equal(2 + (int)HelperMachine.DeadlineMargin.TotalSeconds, HelperMachine.DeadlineSeconds(1.5));
    }

    [Fact]
    public void RunnerArguments_PutTheCommandAfterADoubleDash()
    {
        Assert.Equal(
            ["--cwd", "/srv/repo", "--mem", "3072", "--deadline", "905", "--carry", "/tmp/x", "--", "/srv/repo/out/cli/xensharp", "run", "--timeout", "5"],
            HelperMachine.RunnerArguments("/srv/repo", 3072, 905, ["/tmp/x"], ["/srv/repo/out/cli/xensharp", "run", "--timeout", "5"]));
        Assert.Equal(["--cwd", "/", "--mem", "1040", "--", "x"], HelperMachine.RunnerArguments("/", 1040, null, [], ["x"]));
    }

    /// <summary>The CLI's project copies tools/hwkvm beside xensharp.dll (and so beside whatever references it, as here).</summary>
    [Fact]
    public void TheHelperMachinesScriptsAreBesideTheCli()
    {
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "hwkvm", "emulate")));
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "hwkvm", "machine")));
    }
}
