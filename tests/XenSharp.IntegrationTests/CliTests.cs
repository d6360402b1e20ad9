using System.Net.Sockets;
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

    /// <summary>Found before KVM is opened, so this runs without /dev/kvm too.</summary>
    [Fact]
    public async Task Run_MemoryLargerThanThePool_IsAOneLineUsageError()
    {
        using var dir = new TempDir();
        string cfg = dir.Config("big.cfg", RepoPaths.Guest("hello"), memoryMiB: 128);

        string message = await AssertOneLineErrorAsync(["run", cfg, "--pool-mb", "64"]);

        Assert.Equal($"xensharp: {cfg}: memory=128 MiB does not fit in the 64 MiB machine pool (62 MiB for domains; see --pool-mb)", message);
    }

    /// <summary>
    /// A Linux bzImage as the kernel, as xl takes vmlinuz: the vmlinux in its payload is what the checks before KVM
    /// read (they pass; the pool check after them is what stops this run), never "not an ELF file".
    /// </summary>
    [Fact]
    public async Task Run_BzImageKernel_PassesTheKernelChecks()
    {
        using var dir = new TempDir();
        string kernel = dir.File("vmlinuz", GzipBzImage(File.ReadAllBytes(RepoPaths.Guest("hello"))));
        string cfg = dir.Config("bz.cfg", kernel, memoryMiB: 128);

        string message = await AssertOneLineErrorAsync(["run", cfg, "--pool-mb", "64"]);

        Assert.Equal($"xensharp: {cfg}: memory=128 MiB does not fit in the 64 MiB machine pool (62 MiB for domains; see --pool-mb)", message);
    }

    [KvmFact]
    public async Task Run_BzImageKernel_Boots()
    {
        using var dir = new TempDir();
        string kernel = dir.File("vmlinuz", GzipBzImage(File.ReadAllBytes(RepoPaths.Guest("hello"))));
        string cfg = dir.Config("bz.cfg", kernel);

        CliResult r = await CliProcess.RunAsync(["run", cfg, "--timeout", Limits.Seconds(Limits.Generous), "--pool-mb", "256"]);

        Assert.True(r.ExitCode == 0, r.ToString());
        string[] lines = Guests.Lines(r.Stdout);
        Assert.Equal(Guests.Greeting, lines[0]);
        Assert.Equal(Guests.Success, lines[^1]);
    }

    [Fact]
    public async Task Run_SeveralConfigsTooLargeTogether_NamesTheOneThatNoLongerFits()
    {
        using var dir = new TempDir();
        string a = dir.Config("a.cfg", RepoPaths.Guest("hello"), memoryMiB: 40);
        string b = dir.Config("b.cfg", RepoPaths.Guest("hello"), memoryMiB: 40);

        string message = await AssertOneLineErrorAsync(["run", a, b, "--pool-mb", "64"]);

        Assert.StartsWith($"xensharp: {b}: memory=40 MiB does not fit in the 64 MiB machine pool (62 MiB for domains, 40 MiB of which", message);
    }

    [Theory]
    [InlineData("abc", "\"abc\" is not a number of seconds")]
    [InlineData("-5", "\"-5\" is not more than 0 seconds")]
    [InlineData("0", "\"0\" is not more than 0 seconds")]
    [InlineData("NaN", "\"NaN\" is not a number of seconds")]
    public async Task Run_BadTimeout_IsAUsageError(string value, string problem)
    {
        string[] errors = await AssertUsageErrorAsync(["run", "examples/hello.cfg", "--timeout", value], "xensharp run");

        Assert.Equal([$"xensharp: --timeout: {problem}"], errors);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("15")]
    [InlineData("255")]
    [InlineData("lots")]
    public async Task Run_BadPoolSize_IsAUsageError(string value)
    {
        string[] errors = await AssertUsageErrorAsync(["run", "examples/hello.cfg", "--pool-mb", value], "xensharp run");

        Assert.Equal([$"xensharp: --pool-mb: \"{value}\" is not an even number of MiB from 16 to 1048576"], errors);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1025")]
    [InlineData("-1")]
    [InlineData("two")]
    public async Task Run_BadPcpus_IsAUsageError(string value)
    {
        string[] errors = await AssertUsageErrorAsync(["run", "examples/hello.cfg", "--pcpus", value], "xensharp run");

        Assert.Equal([$"xensharp: --pcpus: \"{value}\" is not a whole number from 1 to 1024"], errors);
    }

    /// <summary>One physical CPU for the whole run: hello still boots and powers off.</summary>
    [KvmFact]
    public async Task Run_OnOnePcpu_HelloPowersOff()
    {
        CliResult r = await CliProcess.RunAsync(["run", "examples/hello.cfg", "--timeout", Limits.Seconds(Limits.Generous), "--pool-mb", "256", "--pcpus", "1"]);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(Guests.Success, Guests.Lines(r.Stdout)[^1]);
    }

    [Fact]
    public async Task Run_BadPoolSizeInTheEnvironment_IsAOneLineUsageError()
    {
        string message = await AssertOneLineErrorAsync(
            ["run", "examples/hello.cfg"],
            new Dictionary<string, string> { ["XENSHARP_POOL_MB"] = "0" });

        Assert.Equal("xensharp: XENSHARP_POOL_MB: \"0\" is not an even number of MiB from 16 to 1048576", message);
    }

    [Theory]
    [InlineData("lsit", "'lsit'")]
    [InlineData("li\nst", "'li\\nst'")] // what the user typed is quoted, so the message stays one line
    public async Task UnknownVerb_IsAUsageError(string verb, string quoted)
    {
        string[] errors = await AssertUsageErrorAsync([verb, "guest"], "xensharp");

        Assert.Equal([$"xensharp: unknown verb {quoted} (xensharp has: run, daemon, create, list, destroy, shutdown, reboot, pause, unpause, mem-set, mem-max, domid, domname, rename, info, uptime, dmesg, vcpu-list, vcpu-set, vcpu-pin, sched-bvt, sysrq, console, block-list, network-list, block-attach, block-detach, network-attach, network-detach, top, version, completions, man)"], errors);
    }

    [Fact]
    public async Task NoVerb_IsAUsageError()
    {
        string[] errors = await AssertUsageErrorAsync([], "xensharp");

        Assert.Equal(["xensharp: no verb given (xensharp has: run, daemon, create, list, destroy, shutdown, reboot, pause, unpause, mem-set, mem-max, domid, domname, rename, info, uptime, dmesg, vcpu-list, vcpu-set, vcpu-pin, sched-bvt, sysrq, console, block-list, network-list, block-attach, block-detach, network-attach, network-detach, top, version, completions, man)"], errors);
    }

    [Theory]
    [InlineData(new[] { "run" }, "xensharp: run: no config given")]
    [InlineData(new[] { "run", "examples/hello.cfg", "--timeout" }, "xensharp: --timeout: needs a value")]
    [InlineData(new[] { "run", "examples/hello.cfg", "--bogus" }, "xensharp: unknown option '--bogus' for run")]
    [InlineData(new[] { "run", "examples/hello.cfg", "--timeout", "5", "--timeout", "6" }, "xensharp: --timeout: given more than once")]
    public async Task Run_MalformedCommandLine_IsAUsageError(string[] args, string error)
    {
        string[] errors = await AssertUsageErrorAsync(args, "xensharp run");

        Assert.Equal([error], errors);
    }

    [Fact]
    public async Task Run_DirectoryAsConfig_SaysSo()
    {
        using var dir = new TempDir();

        string message = await AssertOneLineErrorAsync(["run", dir.Path]);

        Assert.Equal($"xensharp: {dir.Path}: is a directory, not a config file", message);
    }

    [Fact]
    public async Task Run_MissingConfig_SaysSo()
    {
        using var dir = new TempDir();
        string cfg = Path.Combine(dir.Path, "absent.cfg");

        string message = await AssertOneLineErrorAsync(["run", cfg]);

        Assert.Equal($"xensharp: {cfg}: no such config file", message);
    }

    [Fact]
    public async Task Run_BootloaderWithoutKernel_NamesTheBootloader()
    {
        using var dir = new TempDir();
        string cfg = dir.File("pv-grub.cfg", "name = \"guest\"\nmemory = 512\nbootloader = \"pygrub\"\ndisk = [ 'phy:/dev/vg/guest,xvda,w' ]\n");

        string message = await AssertOneLineErrorAsync(["run", cfg]);

        Assert.Equal(
            $"xensharp: {cfg}:3: bootloader 'pygrub' is not supported; XenSharp boots only a 'kernel' named in the config, and this config names none",
            message);
    }

    /// <summary>Ignored settings are warned about once per key, before the run goes on (here to a missing KVM device).</summary>
    [Fact]
    public async Task Run_IgnoredSettings_AreWarnedAboutOncePerKey()
    {
        using var dir = new TempDir();
        string cfg = dir.Config(
            "hello.cfg",
            RepoPaths.Guest("hello"),
            extra: "disk = [ 'phy:/dev/vg/a,xvda,w' ]\nvtpm = [ 'backend=0' ]\nvtpm += [ 'backend=1' ]\ncap = 50\nmemroy = 64\n");

        CliResult r = await CliProcess.RunAsync(
            ["run", cfg],
            new Dictionary<string, string> { ["XENSHARP_KVM_DEVICE"] = Path.Combine(dir.Path, "kvm") });

        Assert.True(r.ExitCode == DomainOutcome.UsageError, r.ToString());
        Assert.Equal(
            [
                $"xensharp: {cfg}:6: warning: 'vtpm' is not supported yet and is ignored",
                $"xensharp: {cfg}:7: warning: 'cap' is not supported yet and is ignored",
                $"xensharp: {cfg}:8: warning: 'memroy' is not an xl setting and is ignored (did you mean 'memory'?)",
            ],
            r.StderrLines[..^1]);
        Assert.Contains("KVM", r.StderrLines[^1]);
    }

    /// <summary>A file at the socket path is neither removed nor replaced, and nothing boots.</summary>
    [Fact]
    public async Task Run_XenstoreSocketOverARegularFile_IsRefusedAndTheFileKept()
    {
        using var dir = new TempDir();
        string notes = dir.File("notes.txt", "precious\n");

        string message = await AssertOneLineErrorAsync(["run", "examples/hello.cfg", "--xenstore-socket", notes]);

        Assert.Equal($"xensharp: {notes}: exists and is not a socket (a regular file); not replacing it", message);
        Assert.Equal("precious\n", File.ReadAllText(notes));
    }

    [Fact]
    public async Task Run_XenstoreSocketALiveXenstoredHolds_IsRefused()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "socket");
        using var live = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        live.Bind(new UnixDomainSocketEndPoint(path));
        live.Listen(4);

        string message = await AssertOneLineErrorAsync(["run", "examples/hello.cfg", "--xenstore-socket", path]);

        Assert.Equal($"xensharp: {path}: a xenstored is already listening on this socket; stop it or choose another path", message);
        Assert.True(File.Exists(path));
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

    /// <summary>A bzImage whose payload is <paramref name="vmlinux"/> gzipped (the gzip trailer is the size Linux appends).</summary>
    private static byte[] GzipBzImage(byte[] vmlinux)
    {
        using var gz = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(gz, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(vmlinux);
        }

        return new XenSharp.Tests.Image.BzImageBuilder(gz.ToArray()).Build();
    }

    /// <summary>
    /// A command line System.CommandLine rejects: exit 2, nothing on stdout, one "xensharp: ..." line per mistake and
    /// last a pointer to <paramref name="command"/>'s help; returns the mistake lines.
    /// </summary>
    private static async Task<string[]> AssertUsageErrorAsync(string[] args, string command)
    {
        CliResult r = await CliProcess.RunAsync(args);

        Assert.True(r.ExitCode == DomainOutcome.UsageError, r.ToString());
        Assert.Equal("", r.Stdout);
        Assert.All(r.StderrLines, l => Assert.StartsWith("xensharp: ", l));
        Assert.Equal($"xensharp: see '{command} --help'", r.StderrLines[^1]);
        return r.StderrLines[..^1];
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
