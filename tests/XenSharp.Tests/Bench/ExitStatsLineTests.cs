using XenSharp.Bench;
using Xunit;

namespace XenSharp.Tests.Bench;

/// <summary>bench/ figure (g) reads a Linux run's <c>--exit-stats</c> line (the format README "Using it" shows) into counts per exit.</summary>
public sealed class ExitStatsLineTests
{
    private const string Line =
        "(XEN) (d1) exits: 393321 in 1689.3 s; hypercalls 237374 (mmu_update 69359, vcpu_op 64469, mmuext_op 34546, "
        + "set_segment_base 20809, xen_version 19130, stack_switch 10160, sched_op 9660, event_channel_op 8665, "
        + "update_va_mapping 367, multicall 95, 13 more); vectors 155947 (#GP 106671, kick 45711, #PF 1997, event-check 824, "
        + "#UD 501, #BP 243); kicks from the host 0; emulated 106671 (in 100678, cli 5246, out 647, rdmsr 70, wrmsr 17, mov 13); "
        + "forced cpuid 501; ports 101325 (0x42 100006, 0xcf8 629, 0xcfc 335, 0xcfe 288, 0x64 17, 0x60 16); "
        + "multicall entries 593 (update_va_mapping 376, mmuext_op 217)";

    [Fact]
    public void EachGroupAndNamedExitIsCounted()
    {
        IReadOnlyDictionary<string, long> c = ExitStatsLine.Parse(Line);

        Assert.Equal(69359, c["hypercalls/mmu_update"]);
        Assert.Equal(367, c["hypercalls/update_va_mapping"]);
        Assert.Equal(100006, c["ports/0x42"]);
        Assert.Equal(5246, c["emulated/cli"]);
        Assert.Equal(1997, c["vectors/#PF"]);
        Assert.Equal(237374, c["hypercalls"]);
        Assert.Equal(0, c["kicks from the host"]);
        Assert.Equal(376, c["multicall entries/update_va_mapping"]);
        Assert.DoesNotContain(c.Keys, k => k.EndsWith("/13", StringComparison.Ordinal) || k.Contains("more", StringComparison.Ordinal));
        Assert.False(c.ContainsKey("hypercalls/iret"));
    }

    [Fact]
    public void ALineWithoutExitsCountsNothing() => Assert.Empty(ExitStatsLine.Parse("(XEN) (d1) something else"));
}
