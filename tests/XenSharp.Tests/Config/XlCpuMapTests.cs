using System.Text.Json.Nodes;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Daemon;
using Xunit;

namespace XenSharp.Tests.Config;

/// <summary>xl's cpumap text (vcpu-pin's CPUS, vcpu-list's Affinity column): parsed in order with '^' exclusions, printed as ranges or "all".</summary>
public sealed class XlCpuMapTests
{
    [Theory]
    [InlineData("all", 4, new[] { 0, 1, 2, 3 })]
    [InlineData("0-1,3", 4, new[] { 0, 1, 3 })]
    [InlineData("all,^2", 4, new[] { 0, 1, 3 })]
    [InlineData("0-3,^1-2", 4, new[] { 0, 3 })]
    [InlineData("^0,2", 4, new[] { 2 })]
    [InlineData("2,1,2", 4, new[] { 1, 2 })]
    [InlineData("node:0", 3, new[] { 0, 1, 2 })]
    [InlineData("nodes:0-0,^1", 3, new[] { 0, 2 })]
    [InlineData("nodes:all", 2, new[] { 0, 1 })]
    public void ParsesXlsSyntax(string text, int cpus, int[] expected) => Assert.Equal(expected, XlCpuMap.Parse(text, cpus));

    [Theory]
    [InlineData("4")]
    [InlineData("1-4")]
    [InlineData("^0")]
    [InlineData("all,^0-3")]
    [InlineData("")]
    [InlineData("1,")]
    [InlineData("a")]
    [InlineData("-1")]
    [InlineData("2-1")]
    [InlineData(" 1")]
    [InlineData("^all,1")]
    [InlineData("^nodes:all")]
    [InlineData("node:1")]
    [InlineData("nodes:0-1")]
    [InlineData("node:")]
    public void RefusesMalformedEmptyOrOutOfRangeMaps(string text) =>
        Assert.Throws<CpuMapException>(() => XlCpuMap.Parse(text, 4));

    [Theory]
    [InlineData(new[] { 0, 1, 2, 3 }, "all")]
    [InlineData(new[] { 0, 1, 3 }, "0-1,3")]
    [InlineData(new[] { 2 }, "2")]
    [InlineData(new[] { 0, 2 }, "0,2")]
    [InlineData(new[] { 1, 2, 3 }, "1-3")]
    [InlineData(new int[0], "none")]
    public void PrintsAsXlDoes(int[] set, string expected) => Assert.Equal(expected, XlCpuMap.Format(set, 4));

    [Fact]
    public void NullIsAll() => Assert.Equal("all", XlCpuMap.Format(null, 4));

    [Fact]
    public void VcpuListPrintsTheAffinitiesHardThenSoft()
    {
        var row = new JsonObject
        {
            ["name"] = "d", ["domid"] = 1, ["vcpu"] = 0, ["cpu"] = -1, ["online"] = true, ["running"] = false, ["blocked"] = true,
            ["paused"] = false, ["cpu_time"] = 0, ["affinity_hard"] = "0-1", ["affinity_soft"] = "all",
        };
        Assert.EndsWith("  0-1 / all", XlOutput.VcpuList([row.DeepClone()]).Last());
        row.Remove("affinity_hard");
        Assert.EndsWith("  all / all", XlOutput.VcpuList([row.DeepClone()]).Last()); // an older daemon's row
    }
}
