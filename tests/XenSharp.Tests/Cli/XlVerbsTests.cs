using System.Diagnostics;
using System.Text.Json.Nodes;
using XenSharp.Tests.Daemon;
using XenSharp.Toolstack.Daemon;
using Xunit;

namespace XenSharp.Tests.Cli;

/// <summary>
/// xl's verbs as the user types them, each a `xensharp` process against a daemon without KVM (DaemonFixture): their
/// arguments, output and exit status — create -p with key=value, list and list -l, domid, an unknown domain's xl line,
/// mem-set's sizes, info and `info NAME`, top -b, console's Ctrl-] detach and its end with the domain, rename, sysrq, vcpu-set,
/// vcpu-pin, block-list and network-list, block-attach/-detach and network-attach/-detach, a daemon that is not there.
/// </summary>
public sealed class XlVerbsTests : IDisposable
{
    private readonly DaemonFixture _daemon = new();

    public void Dispose() => _daemon.Dispose();

    private (int Code, string Stdout, string Stderr) Xl(string? stdin, params string[] args)
    {
        using Process p = Start(args);
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Flush();
        }

        p.StandardInput.Close();
        Wait(p, args);
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static void Wait(Process p, string[] args)
    {
        if (!p.WaitForExit(TimeSpan.FromMinutes(2))) // a guard against a hang, not a timed assertion
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"xensharp {string.Join(' ', args)} did not finish");
        }

        p.WaitForExit();
    }

    private Process Start(params string[] args)
    {
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        var psi = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "xensharp.dll"));
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["XENSHARP_SOCKET"] = _daemon.SocketPath;
        return Process.Start(psi)!;
    }

    [Fact]
    public void CreatePausedWithOverrides_ThenListDomidAndListLong()
    {
        string cfg = _daemon.Config("web");
        var created = Xl(null, "create", "-p", cfg, "name=\"db\"", "vcpus=2");
        Assert.True(created.Code == 0, created.Stderr);
        Assert.Equal($"Parsing config from {cfg}\n", created.Stderr);

        var list = Xl(null, "list");
        Assert.Equal(0, list.Code);
        string[] lines = list.Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal("Name                                        ID   Mem VCPUs\tState\tTime(s)", lines[0]);
        Assert.StartsWith("Domain-0 ", lines[1]);
        Assert.Matches(@"^db {38} +\d+     8     1     --p---       0\.0$", lines[2]);

        string id = lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        Assert.Equal(id + "\n", Xl(null, "domid", "db").Stdout);
        Assert.Equal("db\n", Xl(null, "domname", id).Stdout);

        JsonArray json = JsonNode.Parse(Xl(null, "list", "-l").Stdout)!.AsArray();
        Assert.Equal(2, json[1]!["config"]!["b_info"]!["max_vcpus"]!.GetValue<int>());
    }

    [Fact]
    public void AnUnknownDomainIsXlsLineAndExitStatus1()
    {
        var r = Xl(null, "destroy", "nosuch");
        Assert.Equal(1, r.Code);
        Assert.Equal("nosuch is an invalid domain identifier (rc=-6)\n", r.Stderr);
        Assert.Equal("Can't get domid of domain name 'nosuch', maybe this domain does not exist.\n", Xl(null, "domid", "nosuch").Stderr);
    }

    [Fact]
    public void MemSetTakesXlsSizes_AndRefusesOthers()
    {
        _daemon.CreatePaused("m");
        Assert.Equal(0, Xl(null, "mem-set", "m", "4096k").Code);
        Assert.Equal(4096, _daemon.Request(new JsonObject { ["verb"] = "list" })["domains"]![1]!["target_memkb"]!.GetValue<long>());
        var bad = Xl(null, "mem-set", "m", "lots");
        Assert.Equal(1, bad.Code);
        Assert.Equal("invalid memory size: lots\n", bad.Stderr);
    }

    [Fact]
    public void InfoAndTopBatch()
    {
        _daemon.CreatePaused("t");
        string[] info = Xl(null, "info").Stdout.TrimEnd('\n').Split('\n');
        Assert.Contains("xen_scheduler          : bvt", info);
        Assert.Contains("virt_caps              : pv", info);
        Assert.Equal((0, "pv\n", ""), Xl(null, "info", "virt_caps")); // xtf-runner's two questions
        Assert.Equal((0, "xen-3.0-x86_64\n", ""), Xl(null, "info", "xen_caps"));
        Assert.Equal((0, "", ""), Xl(null, "info", "nosuch"));
        string[] top = Xl(null, "top", "-b", "-i", "1").Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(3, top.Length);
        Assert.StartsWith("         t ----p-", top[2]);
    }

    [Fact]
    public void ConsoleShowsWhatWasPrinted_AndCtrlRightBracketDetaches()
    {
        _daemon.CreatePaused("c");
        _daemon.Toolstack.Find("c")!.Console.Write("hello from c\n"u8);
        using Process p = Start("console", "c");
        Assert.Equal("hello from c", p.StandardOutput.ReadLine()); // the replay, before Ctrl-] is typed
        p.StandardInput.Write('\u001d');
        p.StandardInput.Flush();
        Wait(p, ["console", "c"]);
        Assert.Equal(0, p.ExitCode);
        Assert.Equal(2, _daemon.Request(new JsonObject { ["verb"] = "list" })["domains"]!.AsArray().Count); // still there
    }

    [Fact]
    public void ConsoleTheXtfRunnersWay_StdinAtItsEnd_EndsWithTheDomain_ExitStatus0()
    {
        _daemon.CreatePaused("x");
        ManagedDomain m = _daemon.Toolstack.Find("x")!;
        m.Console.Write("--- Xen Test Framework ---\n"u8);
        using Process p = Start("console", "x");
        p.StandardInput.Close(); // xtf-runner's Popen: stdout a pipe, stdin not the console's
        Assert.Equal("--- Xen Test Framework ---", p.StandardOutput.ReadLine()); // attached
        m.Console.Write("Test result: SUCCESS\n"u8);
        Assert.Equal(0, Xl(null, "destroy", "x").Code); // as on_poweroff="destroy" does
        Assert.Equal("Test result: SUCCESS\n", p.StandardOutput.ReadToEnd());
        Wait(p, ["console", "x"]);
        Assert.Equal(0, p.ExitCode);
    }

    [Fact]
    public void NoDaemon_IsOneLineAndExitStatus1()
    {
        var r = Xl(null, "list", "--socket", Path.Combine(Path.GetTempPath(), "xensharp-no-daemon-here.sock"));
        Assert.Equal(1, r.Code);
        Assert.StartsWith("no xensharp daemon at ", r.Stderr);
    }

    [Fact]
    public void Rename_AndATakenNameIsLibxlsLineThenXls()
    {
        int id = _daemon.CreatePaused("before");
        _daemon.CreatePaused("taken");
        Assert.Equal((0, "", ""), Xl(null, "rename", "before", "after"));
        Assert.Equal($"{id}\n", Xl(null, "domid", "after").Stdout);

        var r = Xl(null, "rename", "after", "taken");
        Assert.Equal(1, r.Code);
        Assert.Equal("domain with name \"taken\" already exists.\nCan't rename domain 'after'.\n", r.Stderr);
    }

    [Fact]
    public void SysrqAndVcpuSet_AndTheirArgumentErrors()
    {
        int id = _daemon.CreatePaused("k", "vcpus = 2\n");
        using var dom0 = _daemon.Toolstack.Store.Connect(0);
        Assert.Equal(0, Xl(null, "sysrq", "k", "s").Code);
        Assert.Equal("s", dom0.Read($"/local/domain/{id}/control/sysrq"));
        Assert.Equal((1, "", "Invalid sysrq.\n"), Xl(null, "sysrq", "k", "sb"));

        Assert.Equal(0, Xl(null, "vcpu-set", "k", "1").Code);
        Assert.Equal("offline", dom0.Read($"/local/domain/{id}/cpu/1/availability"));
        Assert.Equal(0, Xl(null, "vcpu-set", "-i", "k", "2").Code);
        Assert.Equal("online", dom0.Read($"/local/domain/{id}/cpu/1/availability"));
        Assert.Equal((1, "", "Requested 3 VCPUs, however maxcpus is 2!\n"), Xl(null, "vcpu-set", "--ignore-host", "k", "3"));
        Assert.Equal((1, "", "Error: Invalid argument.\n"), Xl(null, "vcpu-set", "k", "two"));
    }

    [Fact]
    public void BlockListAndNetworkList_PrintXlsHeaderAndRows()
    {
        string image = Path.Combine(Path.GetTempPath(), $"xensharp-xl-{Guid.NewGuid():N}.img");
        File.WriteAllBytes(image, new byte[4096]);
        try
        {
            int id = _daemon.CreatePaused("d", $"disk = [ '{image},raw,xvda,rw' ]\n");
            var blocks = Xl(null, "block-list", "d");
            Assert.Equal(0, blocks.Code);
            string[] lines = blocks.Stdout.TrimEnd('\n').Split('\n');
            Assert.Equal(2, lines.Length);
            Assert.StartsWith("Vdev  BE  handle state evt-ch ring-ref BE-path", lines[0]);
            Assert.Equal($"51712 0   {id,-6} 1     -1     -1       /local/domain/0/backend/vbd/{id}/51712", lines[1]);

            var nets = Xl(null, "network-list", "d");
            Assert.Equal(0, nets.Code);
            Assert.StartsWith("Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path", Assert.Single(nets.Stdout.TrimEnd('\n').Split('\n')));
            Assert.Equal((1, "", "nosuch is an invalid domain identifier (rc=-6)\n"), Xl(null, "block-list", "nosuch"));
        }
        finally
        {
            File.Delete(image);
        }
    }

    [Fact]
    public void VcpuPin_PinsAndVcpuListShowsTheAffinity_BadInputIsOneLine()
    {
        _daemon.CreatePaused("p", "vcpus = 2\n");
        Assert.Equal((0, "", ""), Xl(null, "vcpu-pin", "p", "1", "0", "all"));
        var list = Xl(null, "vcpu-list", "p");
        Assert.Equal(0, list.Code);
        string[] rows = list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.EndsWith("all / all", rows[1]);
        Assert.EndsWith("all / all", rows[2]); // this daemon has one CPU: {0} is all of them (DaemonToolstackTests pin on four)
        Assert.Equal((0, "", ""), Xl(null, "vcpu-pin", "p", "all", "-", "0"));
        Assert.Equal((1, "", "Invalid cpumap '1': CPU 1 is out of range (the host has 1 CPUs: 0-0)\n"), Xl(null, "vcpu-pin", "p", "all", "1"));
        Assert.Equal((1, "", "Could not set affinity for vcpu `2': domain 1 has 2 vCPUs (0-1)\n"), Xl(null, "vcpu-pin", "p", "2", "0"));
        Assert.Equal((1, "", "nosuch is an invalid domain identifier (rc=-6)\n"), Xl(null, "vcpu-pin", "nosuch", "all", "0"));
    }

    [Fact]
    public void BlockAndNetworkAttachAndDetach_AsXlTakesThem()
    {
        string image = Path.Combine(Path.GetTempPath(), $"xensharp-xl-{Guid.NewGuid():N}.img");
        File.WriteAllBytes(image, new byte[4096]);
        try
        {
            int id = _daemon.CreatePaused("h");
            Assert.Equal((0, "", ""), Xl(null, "block-attach", "h", image, "raw", "xvdc", "rw"));
            Assert.Contains($"/local/domain/0/backend/vbd/{id}/51744", Xl(null, "block-list", "h").Stdout);
            Assert.Equal((1, "", $"command line: disk '{image},raw,xvdc': vdev xvdc is device 51744, already used by disk '{image},raw,xvdc,rw'\n"),
                Xl(null, "block-attach", "h", $"{image},raw,xvdc"));
            Assert.Equal((0, "", ""), Xl(null, "block-detach", "-f", "h", "xvdc"));
            Assert.Equal((1, "", "Error: Device xvdc not connected.\n"), Xl(null, "block-detach", "h", "xvdc"));

            Assert.Equal((0, "", ""), Xl(null, "network-attach", "h", "mac=00:16:3e:00:00:2a"));
            Assert.Contains("00:16:3e:00:00:2a", Xl(null, "network-list", "h").Stdout);
            using (var guest = _daemon.Toolstack.Store.Connect((uint)id))
            {
                guest.Write("device/vif/0/state", "6"); // the guest has let it go already: no wait
            }

            Assert.Equal((0, "", ""), Xl(null, "network-detach", "h", "00:16:3e:00:00:2a"));
            Assert.Equal((1, "", "Unknown device 0.\n"), Xl(null, "network-detach", "h", "0"));
            Assert.Equal((1, "", "nosuch is an invalid domain identifier (rc=-6)\n"), Xl(null, "network-attach", "nosuch"));
        }
        finally
        {
            File.Delete(image);
        }
    }
}
