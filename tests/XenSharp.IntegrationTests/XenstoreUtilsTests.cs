using XenSharp.IntegrationTests.Support;
using Xunit;

namespace XenSharp.IntegrationTests;

/// <summary>
/// Debian's xenstore-utils against `xensharp daemon`'s store, the daemon a process of its own and store-only (its KVM
/// device pointed at a path that does not exist, so the test runs the same on every host): it starts with a warning,
/// refuses `create` in one line, answers `list` and `info`, and serves the tools over its xenstored socket — write,
/// read, ls (its output format, with -p the permissions), list, exists, rm, chmod, a multi-key write, a watch fired by
/// another client's write, and a missing node read (exit status 1 and the tool's message). SIGTERM ends it with exit 0
/// and both sockets gone.
/// </summary>
public sealed class XenstoreUtilsTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _control;
    private readonly string _store;
    private readonly Dictionary<string, string> _env;

    public XenstoreUtilsTests()
    {
        _control = Path.Combine(_dir.Path, "control.sock");
        _store = Path.Combine(_dir.Path, "xenstored.sock");
        _env = new Dictionary<string, string> { ["XENSHARP_SOCKET"] = _control, ["XENSHARP_KVM_DEVICE"] = NoKvm };
    }

    private string NoKvm => Path.Combine(_dir.Path, "no-kvm");

    public void Dispose() => _dir.Dispose();

    private async Task<string> Ok(string tool, params string[] args)
    {
        CliResult r = await XenstoreUtils.RunAsync(_store, tool, args);
        Assert.True(r.ExitCode == 0 && r.Stderr.Length == 0, $"{tool} {string.Join(' ', args)}: {r}");
        return r.Stdout;
    }

    private async Task<string[]> OkLines(string tool, params string[] args) => Guests.Lines(await Ok(tool, args));

    [XenstoreUtilsFact]
    public async Task DebiansXenstoreTools_AgainstAStoreOnlyDaemon()
    {
        string log = Path.Combine(_dir.Path, "daemon.log");
        using CliRun daemon = CliProcess.Start(["daemon", "--socket", _control, "--xenstore-socket", _store, "--log", log, "--pool-mb", "256"], _env);
        await Limits.Until(() => daemon.StderrSoFar.Contains("daemon listening on", StringComparison.Ordinal) || daemon.HasExited,
            Limits.Generous, "the daemon's start");
        Assert.False(daemon.HasExited, daemon.StderrSoFar);
        string noDomains = $"no {NoKvm} on this host";
        Assert.Contains($"xensharp: warning: {noDomains}; the daemon serves its store and verbs, but no domains can be created", Guests.Lines(daemon.StderrSoFar));
        Assert.Contains(File.ReadAllLines(log), l => l.Contains($"warn xensharp.daemon: store only: {noDomains}; no domains can be created", StringComparison.Ordinal));

        // xl's verbs: create refused in one line, the rest served (Domain-0 alone).
        CliResult create = await CliProcess.RunAsync(["create", _dir.Config("hello.cfg", RepoPaths.Guest("hello"))], _env);
        Assert.Equal(1, create.ExitCode);
        Assert.Equal($"cannot create domain: {noDomains}", create.StderrLines[^1]);
        CliResult list = await CliProcess.RunAsync(["list"], _env);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Equal(["Name", "Domain-0"], Guests.Lines(list.Stdout).Select(l => l.Split(' ')[0]));
        CliResult info = await CliProcess.RunAsync(["info"], _env);
        Assert.True(info.ExitCode == 0, info.ToString());
        Assert.Contains(Guests.Lines(info.Stdout), l => l.StartsWith("xen_caps               : xen-3.0-x86_64", StringComparison.Ordinal));

        // Domain 0's nodes, as the daemon wrote them.
        Assert.Equal(["Domain-0"], await OkLines("xenstore-read", "/local/domain/0/name"));

        // write, read (several keys: one line each), ls (`name = "value"`, children indented by one space), list.
        Assert.Empty(await Ok("xenstore-write", "/test/a", "hello"));
        Assert.Empty(await Ok("xenstore-write", "/test/b", "1", "/test/c", "two words", "/test/d/e", "deep")); // one multi-key write
        Assert.Equal(["hello", "1", "two words"], await OkLines("xenstore-read", "/test/a", "/test/b", "/test/c"));
        Assert.Equal(["a = \"hello\"", "b = \"1\"", "c = \"two words\"", "d = \"\"", " e = \"deep\""], await OkLines("xenstore-ls", "/test"));
        Assert.Equal(["/test/a = \"hello\"", "/test/b = \"1\"", "/test/c = \"two words\"", "/test/d = \"\"", "/test/d/e = \"deep\""],
            await OkLines("xenstore-ls", "-f", "/test"));
        Assert.Equal(["a", "b", "c", "d"], await OkLines("xenstore-list", "/test"));

        // exists: 0 for a node, 1 for none.
        Assert.Empty(await Ok("xenstore-exists", "/test/a"));
        Assert.Equal(1, (await XenstoreUtils.RunAsync(_store, "xenstore-exists", "/test/none")).ExitCode);

        // chmod, then the permissions as ls -p shows them: owner dom0 with read for all, write for dom5.
        Assert.Empty(await Ok("xenstore-chmod", "/test/a", "r0", "w5"));
        string[] perms = await OkLines("xenstore-ls", "-p", "/test");
        Assert.StartsWith("a = \"hello\"", perms[0]);
        Assert.EndsWith("(r0,w5)", perms[0]);
        Assert.EndsWith("(n0)", perms[1]);

        // rm, of a node and of a subtree.
        Assert.Empty(await Ok("xenstore-rm", "/test/b"));
        Assert.Empty(await Ok("xenstore-rm", "/test/d"));
        Assert.Equal(["a", "c"], await OkLines("xenstore-list", "/test"));
        Assert.Equal(1, (await XenstoreUtils.RunAsync(_store, "xenstore-exists", "/test/d/e")).ExitCode);

        // A watch: its first event comes when it is set, the second from another client's write; -n 2 then ends it.
        using (CliRun watch = XenstoreUtils.Start(_store, "xenstore-watch", "-n", "2", "/test/w"))
        {
            await Limits.Until(() => watch.StdoutSoFar.Contains('\n', StringComparison.Ordinal) || watch.HasExited, Limits.Generous, "the watch's first event");
            Assert.Empty(await Ok("xenstore-write", "/test/w/k", "v"));
            CliResult watched = await watch.WaitAsync(Limits.Generous);
            Assert.True(watched.ExitCode == 0, watched.ToString());
            Assert.Equal(["/test/w", "/test/w/k"], Guests.Lines(watched.Stdout));
        }

        // A missing node: the tool's message and exit status 1.
        CliResult missing = await XenstoreUtils.RunAsync(_store, "xenstore-read", "/test/missing");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal(["xenstore-read: couldn't read path /test/missing"], missing.StderrLines);
        Assert.Empty(missing.Stdout);

        CliProcess.Signal(daemon.ProcessId, "TERM");
        CliResult ended = await daemon.WaitAsync(Limits.Generous);
        Assert.True(ended.ExitCode == 0, ended.ToString());
        Assert.False(File.Exists(_store));
        Assert.False(File.Exists(_control));
    }
}
