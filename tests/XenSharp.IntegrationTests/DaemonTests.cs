using System.Net.Sockets;
using System.Text.Json.Nodes;
using XenSharp.IntegrationTests.Support;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>
/// `xensharp daemon` and xl's verbs end to end, each a process of its own: three domains from the C test guests
/// created, listed (text and JSON), one paused and unpaused, one destroyed with the others unaffected, a console
/// attached from a second process (typed input reaches the guest, Ctrl-] detaches), clients killed mid-request, and
/// SIGTERM ending the daemon with its guests; and XTF's xtf-runner sequence (create -p, console, unpause) with the
/// hello guest, whose console ends with its verdict line.
/// </summary>
public sealed class DaemonTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _socket;
    private readonly Dictionary<string, string> _env;

    public DaemonTests()
    {
        _socket = Path.Combine(_dir.Path, "control.sock");
        _env = new Dictionary<string, string> { ["XENSHARP_SOCKET"] = _socket };
    }

    public void Dispose() => _dir.Dispose();

    private CliRun StartDaemon() => CliProcess.Start(
        ["daemon", "--xenstore-socket", Path.Combine(_dir.Path, "xenstored.sock"), "--log", Path.Combine(_dir.Path, "daemon.log"), "--pool-mb", "512", "--pcpus", "2"],
        _env);

    private async Task<CliResult> Xl(params string[] args)
    {
        CliResult r = await CliProcess.RunAsync(args, _env);
        return r;
    }

    private async Task<string> XlOk(params string[] args)
    {
        CliResult r = await Xl(args);
        Assert.True(r.ExitCode == 0, $"xensharp {string.Join(' ', args)}: {r}");
        return r.Stdout;
    }

    /// <summary>xl list's rows by name: (id, mem, vcpus, state).</summary>
    private async Task<Dictionary<string, string[]>> ListRows()
    {
        string[] lines = Guests.Lines(await XlOk("list"));
        Assert.Equal("Name                                        ID   Mem VCPUs\tState\tTime(s)", lines[0]);
        return lines.Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToDictionary(f => f[0], f => f[1..]);
    }

    /// <summary>
    /// What xtf-runner does per test (docs/conformance.md): `xl create -p CFG`, then `xl console NAME` with its stdout a
    /// pipe, started before `xl unpause NAME` and not waited for; the console must end when the domain is gone, exit
    /// status 0, with the guest's verdict as its last line. hello prints XTF's `Test result: SUCCESS` and powers off
    /// (on_poweroff=destroy).
    /// </summary>
    [KvmFact]
    public async Task CreatePausedConsoleUnpause_TheXtfRunnersWay_TheConsoleEndsWithTheVerdict()
    {
        using CliRun daemon = StartDaemon();
        await Limits.Until(() => daemon.StderrSoFar.Contains("daemon listening on", StringComparison.Ordinal) || daemon.HasExited,
            Limits.Generous, "the daemon's start");
        Assert.False(daemon.HasExited, daemon.StderrSoFar);
        Assert.Equal("pv\n", await XlOk("info", "virt_caps"));

        await XlOk("create", "-p", _dir.Config("hello.cfg", RepoPaths.Guest("hello")));
        using CliRun console = CliProcess.Start(["console", "hello"], _env);
        console.CloseInput();
        await XlOk("unpause", "hello");
        CliResult ended = await console.WaitAsync(Limits.Generous);
        Assert.True(ended.ExitCode == 0, ended.ToString());
        Assert.Equal("Test result: SUCCESS", Guests.Lines(ended.Stdout)[^1].TrimEnd('\r'));
        Assert.Contains("Hello, world!", ended.Stdout);
        Assert.Equal(["Domain-0"], (await ListRows()).Keys);

        CliProcess.Signal(daemon.ProcessId, "TERM");
        Assert.Equal(0, (await daemon.WaitAsync(Limits.Generous)).ExitCode);
    }

    [KvmFact]
    public async Task ThreeDomains_ListedPausedDestroyedAndAttached_ThenSigtermEndsThem()
    {
        using CliRun daemon = StartDaemon();
        await Limits.Until(() => daemon.StderrSoFar.Contains("daemon listening on", StringComparison.Ordinal) || daemon.HasExited,
            Limits.Generous, "the daemon's start");
        Assert.False(daemon.HasExited, daemon.StderrSoFar);

        await XlOk("create", _dir.Config("one.cfg", RepoPaths.Guest("conin")));
        await XlOk("create", _dir.Config("two.cfg", RepoPaths.Guest("conin")));
        await XlOk("create", "-p", _dir.Config("three.cfg", RepoPaths.Guest("pausable")), "vcpus=2");

        Dictionary<string, string[]> rows = await ListRows();
        Assert.Equal(["Domain-0", "one", "two", "three"], rows.Keys);
        Assert.Equal(["32", "1"], rows["one"][1..3]);
        Assert.Equal("1", rows["three"][2]); // vCPU 1 comes up when the guest brings it up
        Assert.Equal('p', rows["three"][3][2]); // created paused
        Assert.Equal(rows["two"][0], (await XlOk("domid", "two")).Trim());

        JsonArray json = JsonNode.Parse(await XlOk("list", "-l"))!.AsArray();
        Assert.Equal(["Domain-0", "one", "two", "three"], json.Select(d => d!["config"]!["c_info"]!["name"]!.GetValue<string>()));
        Assert.Equal(2, json[3]!["config"]!["b_info"]!["max_vcpus"]!.GetValue<int>());

        await XlOk("unpause", "three"); // starts it
        Assert.Equal('-', (await ListRows())["three"][3][2]);
        await XlOk("pause", "three");
        Assert.Equal('p', (await ListRows())["three"][3][2]);
        await XlOk("unpause", "three");
        Assert.Equal('-', (await ListRows())["three"][3][2]);

        await XlOk("destroy", "two");
        rows = await ListRows();
        Assert.Equal(["Domain-0", "one", "three"], rows.Keys);
        CliResult unknown = await Xl("pause", "two");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Equal(["two is an invalid domain identifier (rc=-6)"], unknown.StderrLines);

        // A client killed mid-request, and one that stops inside a frame: the daemon serves the next.
        using (CliRun killed = CliProcess.Start(["console", "three"], _env))
        {
            await Limits.Until(() => killed.StdoutSoFar.Contains("pausable: counting", StringComparison.Ordinal), Limits.Generous, "the console's replay");
            killed.Dispose(); // kills it
        }

        using (var raw = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            raw.Connect(new UnixDomainSocketEndPoint(_socket));
            raw.Send([0, 0, 1, 0, (byte)'{']);
        }

        Assert.Equal(["Domain-0", "one", "three"], (await ListRows()).Keys);

        // A console from a second process: what was printed, then typed input to the guest; the session ends with
        // the domain (conin powers off after its line; on_poweroff=destroy).
        using (CliRun console = CliProcess.Start(["console", "one"], _env))
        {
            await Limits.Until(() => console.StdoutSoFar.Contains("conin: waiting for a line", StringComparison.Ordinal), Limits.Generous, "conin's console");
            await console.TypeAsync("over the daemon\n");
            CliResult ended = await console.WaitAsync(Limits.Generous);
            Assert.Equal(0, ended.ExitCode);
            Assert.Contains("conin: got 'over the daemon'", ended.Stdout);
        }

        // Ctrl-] detaches and leaves the domain running.
        using (CliRun console = CliProcess.Start(["console", "three"], _env))
        {
            await Limits.Until(() => console.StdoutSoFar.Contains("pausable: counting", StringComparison.Ordinal), Limits.Generous, "pausable's console");
            await console.TypeAsync("\u001d");
            Assert.Equal(0, (await console.WaitAsync(Limits.Generous)).ExitCode);
        }

        // one is gone (powered off, destroyed); three is unaffected by all of it.
        rows = await ListRows();
        Assert.Equal(["Domain-0", "three"], rows.Keys);
        Assert.Equal('-', rows["three"][3][2]);
        Assert.Contains(Guests.Lines(await XlOk("dmesg")), l => l.EndsWith("one: powered off", StringComparison.Ordinal));
        string[] top = Guests.Lines(await XlOk("top", "-b", "-i", "1"));
        Assert.Equal(3, top.Length); // xentop's header, Domain-0, three
        Assert.StartsWith("      NAME  STATE   CPU(sec) CPU(%)", top[0]);
        Assert.StartsWith("     three ", top[2]);

        CliProcess.Signal(daemon.ProcessId, "TERM");
        CliResult stopped = await daemon.WaitAsync(Limits.Generous);
        Assert.True(stopped.ExitCode == 0, stopped.ToString());
        Assert.False(File.Exists(_socket));
        string log = File.ReadAllText(Path.Combine(_dir.Path, "daemon.log"));
        Assert.Contains("three: ", log); // the guest's end (asked to power off) is in the log
    }
}
