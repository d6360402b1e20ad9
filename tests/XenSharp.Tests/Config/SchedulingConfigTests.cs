using XenSharp.Hypervisor.Scheduling;
using XenSharp.Toolstack.Config;
using Xunit;

namespace XenSharp.Tests.Config;

/// <summary>The CPU share and warp settings: xl's cpu_weight, and BVT's own keys named after xm sched-bvt's arguments.</summary>
public class SchedulingConfigTests
{
    private const string Minimal = "name = \"guest\"\nkernel = \"/boot/vmlinuz\"\n";

    private static BvtParameters SchedulingOf(string lines) => XlConfigParser.Parse(Minimal + lines, "hello.cfg").Scheduling;

    private static string ErrorOf(string lines) =>
        Assert.Throws<ConfigException>(() => XlConfigParser.Parse(Minimal + lines, "hello.cfg")).Message;

    [Fact]
    public void WithoutSettingsADomainHasXensDefaults()
    {
        Assert.Equal(new BvtParameters(), SchedulingOf(""));
    }

    [Theory]
    [InlineData("cpu_weight = 256", 10 * BvtParameters.Unit)]
    [InlineData("cpu_weight = 512", 5 * BvtParameters.Unit)]
    [InlineData("cpu_weight = \"1024\"", 5 * BvtParameters.Unit / 2)]
    [InlineData("mcuadv = 30", 30 * BvtParameters.Unit)]
    [InlineData("mcuadv = 1", BvtParameters.Unit)]
    public void TheShareComesFromCpuWeightOrMcuadv(string line, long advance)
    {
        Assert.Equal(advance, SchedulingOf(line + "\n").McuAdvance);
    }

    [Fact]
    public void WarpSettingsAreInXmsUnits()
    {
        BvtParameters p = SchedulingOf("warpback = 1\nwarpvalue = 2000\nwarpl = 15\nwarpu = 0x40\n");

        Assert.True(p.WarpBack);
        Assert.Equal(2000 * BvtParameters.Unit, p.WarpValue);
        Assert.Equal(15_000_000, p.WarpLimitNs);
        Assert.Equal(64_000_000, p.UnwarpRequirementNs);
        Assert.Equal(0, p.Validate());
    }

    [Fact]
    public void TheParametersReachTheBuildRequest()
    {
        DomainConfig config = XlConfigParser.Parse(Minimal + "cpu_weight = 768\nwarpback = 1\n", "hello.cfg");
        var request = new Toolstack.Builder.BuildRequest(config.Name, null!, config.MemoryMiB, config.Vcpus, config.CommandLine, Scheduling: config.Scheduling);

        Assert.Equal(BvtParameters.McuAdvanceOfWeight(768), request.Scheduling!.McuAdvance);
        Assert.True(request.Scheduling.WarpBack);
    }

    [Theory]
    [InlineData("cpu_weight = 0", "hello.cfg:3: cpu_weight must be a number from 1 to 65535, got 0")]
    [InlineData("cpu_weight = 65536", "hello.cfg:3: cpu_weight must be a number from 1 to 65535, got 65536")]
    [InlineData("cpu_weight = \"heavy\"", "hello.cfg:3: cpu_weight must be a number from 1 to 65535, got \"heavy\"")]
    [InlineData("mcuadv = 0", "hello.cfg:3: mcuadv must be a number from 1 to 65536, got 0")]
    [InlineData("warpback = 2", "hello.cfg:3: warpback must be a number from 0 to 1, got 2")]
    [InlineData("warpvalue = \"-1\"", "hello.cfg:3: warpvalue must be a number from 0 to 2147483647, got \"-1\"")]
    [InlineData("warpl = 2147483648", "hello.cfg:3: warpl must be a number from 0 to 2147483647 ms, got 2147483648")]
    [InlineData("warpu = [ 1 ]", "hello.cfg:3: warpu must be a number from 0 to 2147483647 ms, got a list")]
    [InlineData("cpu_weight = 512\nmcuadv = 5", "hello.cfg:4: cpu_weight and mcuadv both set the domain's CPU share; give one of them")]
    public void BadValuesAreOneLineErrors(string lines, string message)
    {
        Assert.Equal(message, ErrorOf(lines + "\n"));
    }
}
