using XenSharp.Backends.Net;
using XenSharp.Toolstack.Config;
using Xunit;

namespace XenSharp.Tests.Config;

/// <summary>`vfr_rules=[...]`, XenSharp's own key for the VFR's rules per VIF: the settings, their defaults, file order kept, one-line errors.</summary>
public class VfrRulesConfigTests
{
    private const string Minimal = "name = \"guest\"\nkernel = \"/boot/vmlinuz\"\nvif = [ 'mac=00:16:3e:00:00:01', 'devid=3' ]\n";

    private static DomainConfig Parse(params string[] entries) =>
        XlConfigParser.Parse(Minimal + $"vfr_rules = [ {string.Join(", ", entries.Select(e => $"'{e}'"))} ]\n", "g.cfg");

    private static string Error(string entry) =>
        Assert.Throws<ConfigException>(() => Parse(entry)).Message;

    [Fact]
    public void EverySettingAndTheDefaults()
    {
        DomainConfig c = Parse("vif=3, action=deny,dir=out,proto=tcp,src=10.0.0.0/8,dst=192.168.1.2,sport=1000-2000,dport=22", "action=allow");
        Assert.Empty(c.Warnings);
        Assert.Equal(2, c.VfrRules.Count);
        Assert.Equal((3, 4), (c.VfrRules[0].DeviceId, c.VfrRules[0].Line));
        Assert.Equal(
            new VfrRule(VfrAction.Deny, VfrDirection.FromVif, VfrProtocol.Tcp, Ipv4Prefix.TryParse("10.0.0.0/8"), Ipv4Prefix.TryParse("192.168.1.2"), new VfrPortRange(1000, 2000), new VfrPortRange(22)),
            c.VfrRules[0].Rule);
        Assert.Equal(0, c.VfrRules[1].DeviceId);
        Assert.Equal(new VfrRule(VfrAction.Allow), c.VfrRules[1].Rule); // both directions, any protocol, anywhere
    }

    [Fact]
    public void FileOrderIsRuleOrder()
    {
        DomainConfig c = Parse("action=allow,dir=in", "action=deny,proto=udp", "vif=3,action=deny", "action=allow,proto=icmp");
        Assert.Equal(
            [(0, VfrAction.Allow, VfrDirection.ToVif), (0, VfrAction.Deny, VfrDirection.Both), (3, VfrAction.Deny, VfrDirection.Both), (0, VfrAction.Allow, VfrDirection.Both)],
            c.VfrRules.Select(r => (r.DeviceId, r.Rule.Action, r.Rule.Direction)));
    }

    [Fact]
    public void NoKeyNoRules() =>
        Assert.Empty(XlConfigParser.Parse(Minimal, "g.cfg").VfrRules);

    [Theory]
    [InlineData("dir=out", "no action (action=allow or action=deny)")]
    [InlineData("action=drop", "invalid action 'drop' (expected allow or deny)")]
    [InlineData("action=deny,deny", "'deny' is not key=value (keys: vif, action, dir, proto, src, dst, sport, dport)")]
    [InlineData("action=deny,port=1", "unknown key 'port' (keys: vif, action, dir, proto, src, dst, sport, dport)")]
    [InlineData("action=deny,action=allow", "action is given twice")]
    [InlineData("action=deny,dir=up", "invalid dir 'up' (expected out, in or both)")]
    [InlineData("action=deny,proto=sctp", "invalid proto 'sctp' (expected tcp, udp, icmp or any)")]
    [InlineData("action=deny,src=10.0.0.256", "invalid src '10.0.0.256' (expected a.b.c.d or a.b.c.d/n)")]
    [InlineData("action=deny,dst=10.0.0.0/33", "invalid dst '10.0.0.0/33' (expected a.b.c.d or a.b.c.d/n)")]
    [InlineData("action=deny,dport=65536", "invalid dport '65536' (expected a port or first-last, 0 to 65535)")]
    [InlineData("action=deny,sport=20-10", "invalid sport '20-10' (expected a port or first-last, 0 to 65535)")]
    [InlineData("action=deny,proto=icmp,dport=1", "sport and dport need proto tcp, udp or any (ICMP has no ports)")]
    [InlineData("vif=x,action=deny", "invalid vif 'x' (expected a devid, e.g. 0)")]
    [InlineData("vif=1,action=deny", "no vif has devid 1")]
    public void ABadEntryIsOneLineNamingIt(string entry, string detail)
    {
        string message = Error(entry);
        Assert.Equal($"g.cfg:4: vfr_rules '{entry}': {detail}", message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void NotAListOfStrings() =>
        Assert.Equal(
            "g.cfg:4: vfr_rules must be a list of strings, got \"action=deny\"",
            Assert.Throws<ConfigException>(() => XlConfigParser.Parse(Minimal + "vfr_rules = \"action=deny\"\n", "g.cfg")).Message);
}
