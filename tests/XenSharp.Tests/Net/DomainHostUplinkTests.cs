using XenSharp.Backends.Console;
using XenSharp.Backends.Net;
using XenSharp.Hypervisor;
using XenSharp.IntegrationTests.Support;
using XenSharp.Tests.Builder;
using XenSharp.Tests.Image;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.Tests.Net;

/// <summary>
/// A vif's `bridge=NAME` as the host builds domains: the host's VFR gets an uplink through TAP NAME before the domain
/// exists, shared by every domain that names it; a bridge that cannot be had fails the build in one line naming the
/// config, the line and the entry, and no domain is left. An uplink stays while the host lives, used or not, and goes
/// (its TAP with it) when the host is disposed.
/// </summary>
public sealed class DomainHostUplinkTests : IDisposable
{
    private readonly XenHypervisor _hv = TestDomains.Hypervisor();

    public void Dispose() => _hv.Dispose();

    private static DomainConfig Config(string name, string vif) =>
        XlConfigParser.Parse($"name = \"{name}\"\nkernel = \"/k\"\nvif = [ '{vif}' ]\n", $"/etc/xen/{name}.cfg");

    private (ushort, DomainBackends) Build(DomainHost host, DomainConfig c) =>
        host.Build(c, new BuildRequest(c.Name, TestDomains.GenericKernel(), 16, 1, ""), new ConsoleMux(new CapturingConsole()));

    [Fact]
    public void ABridgeThatCannotBeHadFailsTheBuildInOneLine()
    {
        var host = new DomainHost(_hv);
        int before = _hv.Control.List().Count;
        var e = Assert.Throws<DomainBuildException>(() => Build(host, Config("g", "mac=00:16:3e:00:00:01,bridge=a/b")));
        Assert.Equal(
            "/etc/xen/g.cfg:3: vif 'mac=00:16:3e:00:00:01,bridge=a/b': bridge a/b: 'a/b' is not an interface name (1 to 15 printable characters, none of / : % or space)",
            e.Message);
        Assert.Equal(before, _hv.Control.List().Count);
        Assert.Empty(host.Uplinks.Open);
    }

    [Fact]
    public void NoBridgeNoUplink()
    {
        var host = new DomainHost(_hv);
        (ushort d, DomainBackends b) = Build(host, Config("g", "mac=00:16:3e:00:00:01"));
        Assert.Empty(host.Uplinks.Open);
        host.Destroy(d, b);
    }

    [TapFact]
    public void TwoDomainsNamingOneBridgeShareOneUplinkOnTheHostsVfr() => OwnNetns.Run(() =>
    {
        var host = new DomainHost(_hv);
        (ushort a, DomainBackends ba) = Build(host, Config("a", "bridge=xsup1"));
        (ushort b, DomainBackends bb) = Build(host, Config("b", "bridge=xsup1"));
        TapUplink uplink = Assert.Single(host.Uplinks.Open).Value;
        Assert.Equal("xsup1", Assert.Single(host.Uplinks.Open).Key);
        Assert.Contains(uplink.Port, host.Vfr.Ports);
        host.Destroy(a, ba);
        host.Destroy(b, bb);
        host.Dispose();
        Assert.DoesNotContain(uplink.Port, host.Vfr.Ports);
    });

    [TapFact]
    public void AnUplinkOutlivesTheDomainsThatNamedIt_AndGoesWithTheHost() => OwnNetns.Run(() =>
    {
        var host = new DomainHost(_hv);
        (ushort a, DomainBackends ba) = Build(host, Config("a", "bridge=xsup2"));
        host.Destroy(a, ba);
        Assert.True(HostInterfaces.Exists("xsup2")); // as a bridge outlives its domains: the host's address on it stays
        TapUplink uplink = Assert.Single(host.Uplinks.Open).Value;

        (ushort again, DomainBackends bagain) = Build(host, Config("a", "bridge=xsup2")); // a reboot finds the same one
        Assert.Same(uplink, Assert.Single(host.Uplinks.Open).Value);
        host.Destroy(again, bagain);

        host.Dispose();
        Assert.Empty(host.Uplinks.Open);
        Assert.False(HostInterfaces.Exists("xsup2")); // the TAP we created goes with its last descriptor
        Assert.DoesNotContain(uplink.Port, host.Vfr.Ports);
        var e = Assert.Throws<DomainBuildException>(() => Build(host, Config("late", "bridge=xsup2")));
        Assert.Equal("/etc/xen/late.cfg:3: vif 'bridge=xsup2': bridge xsup2: the host is stopping", e.Message);
    });

    [TapFact]
    public void TheRunSessionsEndClosesItsUplinks() => OwnNetns.Run(() =>
    {
        // The session's domain is built (its uplink made on this thread) and cannot start (no KVM machine): the run
        // ends there, and its uplink with it.
        string kernel = Path.Combine(Path.GetTempPath(), $"xs-uplink-{Guid.NewGuid():N}.elf");
        File.WriteAllBytes(kernel, TestKernels.Generic([.. TestKernels.GenericNotes, XenNotes.U64(XenNotes.HypercallPage, TestDomains.HypercallPageVa)]).Build().Bytes);
        try
        {
            DomainConfig c = XlConfigParser.Parse($"name = \"r\"\nkernel = \"{kernel}\"\nmemory = 16\nvif = [ 'bridge=xsup3' ]\n", "/etc/xen/r.cfg");
            var session = new RunSession(_hv, [c], new StringWriter(), new RunOptions());
            var e = Assert.Throws<InvalidOperationException>(() => session.RunAsync().GetAwaiter().GetResult());
            Assert.Contains("no KVM machine", e.Message);
            Assert.False(HostInterfaces.Exists("xsup3"));
        }
        finally
        {
            File.Delete(kernel);
        }
    });
}
