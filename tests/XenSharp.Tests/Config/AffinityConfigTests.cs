using XenSharp.Toolstack.Config;
using Xunit;

namespace XenSharp.Tests.Config;

/// <summary>cpus= and cpus_soft= as xl reads them: a string for every vCPU, a list for vCPU i its entry i; the syntax checked at read time, the CPUs when the domain is built.</summary>
public class AffinityConfigTests
{
    private const string Minimal = "name = \"guest\"\nkernel = \"/boot/vmlinuz\"\nvcpus = 3\n";

    private static DomainConfig Parse(string lines) => XlConfigParser.Parse(Minimal + lines, "hello.cfg");

    private static string ErrorOf(string lines) =>
        Assert.Throws<ConfigException>(() => Parse(lines)).Message;

    [Fact]
    public void WithoutTheKeysEveryVcpuKeepsEveryCpu()
    {
        DomainConfig c = Parse("");
        Assert.Null(c.HardAffinity);
        Assert.Null(c.SoftAffinity);
        Assert.Empty(c.Warnings);
    }

    [Fact]
    public void AStringPinsEveryVcpuAlike()
    {
        DomainConfig c = Parse("cpus = \"0-1,^0\"\ncpus_soft = \"all\"\n");
        Assert.Empty(c.Warnings); // understood now, no longer "not supported yet"
        for (int v = 0; v < 3; v++)
        {
            Assert.Equal([1], c.HardAffinity!.For(v, 4)!);
            Assert.Equal([0, 1, 2, 3], c.SoftAffinity!.For(v, 4)!);
        }
    }

    [Fact]
    public void AListPinsVcpuIToItsEntryI_AndLeavesTheRestFree()
    {
        DomainConfig c = Parse("cpus = [ \"2\", \"0-1\" ]\n");
        Assert.Equal([2], c.HardAffinity!.For(0, 4)!);
        Assert.Equal([0, 1], c.HardAffinity.For(1, 4)!);
        Assert.Null(c.HardAffinity.For(2, 4)); // past the list: every CPU
    }

    [Fact]
    public void ANodeNamesEveryCpuOfTheOneNode()
    {
        Assert.Equal([0, 1], Parse("cpus = \"node:0\"\n").HardAffinity!.For(0, 2)!);
    }

    [Theory]
    [InlineData("cpus = \"1-\"", "hello.cfg:4: cpus: Invalid cpumap '1-': '1-' is not a number or a range")]
    [InlineData("cpus = [ \"0\", \"x\" ]", "hello.cfg:4: cpus: Invalid cpumap 'x': 'x' is not a number or a range")]
    [InlineData("cpus_soft = \"^all\"", "hello.cfg:4: cpus_soft: Invalid cpumap '^all': can't combine \"^\" and \"all\"")]
    [InlineData("cpus = 3", "hello.cfg:4: cpus must be a string or a list of strings, got 3")]
    [InlineData("cpus = [ 3 ]", "hello.cfg:4: each cpus entry must be a string, got 3")]
    [InlineData("cpus = \"node:1\"", "hello.cfg:4: cpus: Invalid cpumap 'node:1': node 1 is out of range (the host is one NUMA node: 0)")]
    public void AMalformedMapIsOneLineNamingTheFileLineAndKey(string line, string expected)
    {
        Assert.Equal(expected, ErrorOf(line + "\n"));
    }

    [Fact]
    public void ACpuTheHostLacksIsRefusedWhenBuilt_NotWhenRead()
    {
        VcpuAffinity a = Parse("cpus = \"5\"\n").HardAffinity!;
        Assert.Equal([5], a.For(0, 8)!);
        Assert.Equal(
            "Invalid cpumap '5': CPU 5 is out of range (the host has 2 CPUs: 0-1)",
            Assert.Throws<CpuMapException>(() => a.For(0, 2)).Message);
    }

    [Fact]
    public void TwoParsesOfOneListAreEqual()
    {
        Assert.Equal(Parse("cpus = [ \"0\", \"1\" ]\n").HardAffinity, Parse("cpus = [ \"0\", \"1\" ]\n").HardAffinity);
        Assert.NotEqual(Parse("cpus = [ \"0\", \"1\" ]\n").HardAffinity, Parse("cpus = [ \"0\", \"2\" ]\n").HardAffinity);
    }
}
