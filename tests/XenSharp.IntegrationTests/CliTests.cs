using XenSharp.IntegrationTests.Support;
using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>The `xensharp` CLI as a separate process: exit codes, stdout, and one-line errors on stderr.</summary>
public sealed class CliTests
{
    [Fact]
    public async Task Version_PrintsTheVersion()
    {
        CliResult r = await CliProcess.RunAsync(["version"]);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("xensharp ", r.Stdout);
        Assert.Equal("", r.Stderr);
    }

    [KvmFact]
    public async Task Run_HelloExample_PrintsTheGreetingAndExitsZero()
    {
        CliResult r = await CliProcess.RunAsync(["run", "examples/hello.cfg", "--timeout", Limits.Seconds(Limits.Generous), "--pool-mb", "256"]);

        Assert.True(r.ExitCode == 0, r.ToString());
        string[] lines = Guests.Lines(r.Stdout);
        Assert.Equal(Guests.Greeting, lines[0]);
        Assert.Equal(Guests.Success, lines[^1]);
        Assert.Contains("hello: powered off", r.Stderr); // the hypervisor log goes to stderr
    }

    /// <summary>What the user types to `xensharp run` reaches the (first) domain's PV console in ring.</summary>
    [KvmFact]
    public async Task Run_TypedInputReachesTheGuestsConsoleRing()
    {
        using var dir = new TempDir();
        string cfg = dir.Config("conin.cfg", RepoPaths.Guest("conin"));

        CliResult r = await CliProcess.RunAsync(["run", cfg, "--timeout", Limits.Seconds(Limits.Generous), "--pool-mb", "256"], stdin: "hello xensharp\n");

        Assert.True(r.ExitCode == 0, r.ToString());
        string[] lines = Guests.Lines(r.Stdout);
        Assert.Contains("[PASS] conin: got 'hello xensharp'", lines);
        Assert.Equal(Guests.Success, lines[^1]);
    }

    [Fact]
    public async Task Run_MissingKernel_IsAOneLineUsageError()
    {
        using var dir = new TempDir();
        string kernel = Path.Combine(dir.Path, "no-such-kernel.elf");
        string cfg = dir.Config("missing.cfg", kernel);

        string message = await AssertOneLineErrorAsync(["run", cfg]);

        Assert.Contains(kernel, message);
        Assert.Contains("no such kernel file", message);
    }

    [Fact]
    public async Task Run_KernelThatIsNotElf_IsAOneLineUsageError()
    {
        using var dir = new TempDir();
        string kernel = dir.File("readme.txt", "This is a text file, not a kernel.\n");
        string cfg = dir.Config("notelf.cfg", kernel);

        string message = await AssertOneLineErrorAsync(["run", cfg]);

        Assert.Contains(kernel, message);
        Assert.Contains("not an ELF file", message);
    }

    [Fact]
    public async Task Run_ElfWithoutXenNotes_IsAOneLineUsageError()
    {
        using var dir = new TempDir();
        string kernel = dir.File("plain.elf", TinyElf.WithoutXenNotes());
        string cfg = dir.Config("plain.cfg", kernel);

        string message = await AssertOneLineErrorAsync(["run", cfg]);

        Assert.Contains(kernel, message);
        Assert.Contains("not a Xen PV kernel", message);
    }

    [KvmFact]
    public async Task Run_MemoryLargerThanThePool_IsAOneLineUsageError()
    {
        using var dir = new TempDir();
        string cfg = dir.Config("big.cfg", RepoPaths.Guest("hello"), memoryMiB: 128);

        string message = await AssertOneLineErrorAsync(["run", cfg, "--pool-mb", "64"]);

        Assert.Contains("memory=128", message);
        Assert.Contains("--pool-mb", message);
    }

    [Fact]
    public async Task Run_MalformedConfigLine_NamesFileAndLine()
    {
        using var dir = new TempDir();
        string cfg = dir.Config("bad.cfg", RepoPaths.Guest("hello"), extra: "this line is not a setting\n");

        string message = await AssertOneLineErrorAsync(["run", cfg]);

        Assert.Contains($"{cfg}:4:", message);
    }

    /// <summary>
    /// Points the CLI at a KVM device that does not exist through $XENSHARP_KVM_DEVICE (read by
    /// XenHypervisor.CreateOnKvm); the error must say there is no KVM instead of crashing.
    /// </summary>
    [Fact]
    public async Task Run_WithoutKvm_IsAOneLineUsageError()
    {
        using var dir = new TempDir();
        string device = Path.Combine(dir.Path, "kvm");

        string message = await AssertOneLineErrorAsync(
            ["run", "examples/hello.cfg"],
            new Dictionary<string, string> { ["XENSHARP_KVM_DEVICE"] = device });

        Assert.Contains(device, message);
        Assert.Contains("KVM", message);
    }

    /// <summary>Exit 2, nothing on stdout, and exactly one "xensharp: ..." line on stderr (no stack trace); returns that line.</summary>
    private static async Task<string> AssertOneLineErrorAsync(string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        CliResult r = await CliProcess.RunAsync(args, environment);

        Assert.True(r.ExitCode == DomainOutcome.UsageError, r.ToString());
        Assert.Equal("", r.Stdout);
        Assert.DoesNotContain(r.StderrLines, l => l.StartsWith("   at ", StringComparison.Ordinal));
        string line = Assert.Single(r.StderrLines);
        Assert.StartsWith("xensharp: ", line);
        return line;
    }
}
