using XenSharp.Toolstack.Config;
using Xunit;

namespace XenSharp.Tests.Config;

/// <summary>`vif=[...]` in xl-network-configuration(5) syntax: the settings xl reads, its errors, and what XenSharp refuses by name.</summary>
public class VifConfigTests
{
    private const string Minimal = "name = \"guest\"\nkernel = \"/boot/vmlinuz\"\n";

    private static IReadOnlyList<VifSpec> Vifs(params string[] entries) =>
        XlConfigParser.Parse(Minimal + $"vif = [ {string.Join(", ", entries.Select(e => $"'{e}'"))} ]\n", "g.cfg").Vifs;

    private static string Error(string entry) =>
        Assert.Throws<ConfigException>(() => XlConfigParser.Parse(Minimal + $"vif = [ '{entry}' ]\n", "hello.cfg")).Message;

    [Fact]
    public void EverySetting()
    {
        VifSpec vif = Assert.Single(Vifs("mac=00:16:3e:0a:0b:0c, bridge=xenbr0,ip=10.0.0.2 10.0.0.3,rate=10Mb/s@20ms,model=e1000,vifname=web0,type=ioemu,gatewaydev=eth0,mtu=1400"));
        Assert.Equal(new byte[] { 0x00, 0x16, 0x3e, 0x0a, 0x0b, 0x0c }, vif.Mac);
        Assert.Equal(("xenbr0", "10.0.0.2 10.0.0.3", "e1000", "web0", "ioemu", "eth0", 1400), (vif.Bridge, vif.Ip, vif.Model, vif.VifName, vif.Type, vif.GatewayDev, vif.Mtu));
        Assert.Equal(new VifRate(25_000, 20_000), vif.Rate); // 10 Mbit/s = 1.25 MB/s, 20 ms of it
        Assert.Equal(0, vif.DeviceId);
    }

    [Fact]
    public void DefaultsAndDeviceIds()
    {
        IReadOnlyList<VifSpec> vifs = Vifs("", "bridge=br1", "devid=7");
        Assert.Equal([0, 1, 7], vifs.Select(v => v.DeviceId));
        Assert.Null(vifs[0].Mac);
        Assert.Equal("vif", vifs[0].Type);
        Assert.Null(vifs[0].Rate);
    }

    [Theory]
    [InlineData("rate=1MB/s", 50_000ul, 50_000u)]
    [InlineData("rate=8Kb/s@1s", 1_000ul, 1_000_000u)]
    [InlineData("rate=1GB/s@100us", 100_000ul, 100u)]
    public void Rates(string entry, ulong bytes, uint interval)
    {
        Assert.Equal(new VifRate(bytes, interval), Assert.Single(Vifs(entry)).Rate);
    }

    [Theory]
    [InlineData("mac=00:16:3e:0a:0b", "invalid mac '00:16:3e:0a:0b' (expected six hex octets, e.g. 00:16:3e:00:00:01)")]
    [InlineData("mac=00:16:3e:0a:0b:zz", "invalid mac '00:16:3e:0a:0b:zz' (expected six hex octets, e.g. 00:16:3e:00:00:01)")]
    [InlineData("mac=01:16:3e:0a:0b:0c", "invalid mac '01:16:3e:0a:0b:0c': a multicast address")]
    [InlineData("type=e1000", "invalid type 'e1000' (expected vif or ioemu)")]
    [InlineData("rate=fast", "invalid rate 'fast' (expected e.g. 10Mb/s or 1MB/s@20ms)")]
    [InlineData("rate=1b/s@1us", "invalid rate '1b/s@1us': it allows no bytes per interval")]
    [InlineData("colour=red", "unrecognized argument 'colour=red'")]
    [InlineData("bridge", "unrecognized argument 'bridge'")]
    [InlineData("mtu=0", "invalid mtu '0' (expected a number up to 65535)")]
    [InlineData("script=vif-route", "script 'vif-route' is not supported yet: XenSharp runs no hotplug scripts")]
    [InlineData("backend=netdom", "backend 'netdom' is not supported yet: no driver domains, only domain 0")]
    [InlineData("colo_compare_out=x", "colo_compare_out is not supported yet (no COLO)")]
    public void Errors(string entry, string problem)
    {
        Assert.Equal($"hello.cfg:3: vif '{entry}': {problem}", Error(entry));
    }

    [Fact]
    public void TwoVifsWithOneDevidAreAnError()
    {
        Assert.Equal(
            "hello.cfg:3: vif 'devid=0': devid 0 is already used by vif 'bridge=a'",
            Assert.Throws<ConfigException>(() => XlConfigParser.Parse(Minimal + "vif = [ 'bridge=a', 'devid=0' ]\n", "hello.cfg")).Message);
    }
}
