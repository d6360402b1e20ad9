using XenSharp.Abi;
using XenSharp.Hypervisor.Scheduling;
using Xunit;

namespace XenSharp.Tests.Scheduling;

/// <summary>bvt_adjdom's checks: bad parameters are refused with Xen's errno and change nothing.</summary>
public class BvtParameterTests
{
    private sealed record OtherParameters : SchedulerParameters;

    public static TheoryData<BvtParameters> Invalid => new()
    {
        new BvtParameters { McuAdvance = 0 },
        new BvtParameters { McuAdvance = -1 },
        new BvtParameters { McuAdvance = BvtParameters.MaxMcuAdvance + 1 },
        new BvtParameters { WarpValue = -1 },
        new BvtParameters { WarpValue = BvtParameters.MaxWarpValue + 1 },
        new BvtParameters { WarpLimitNs = -1 },
        new BvtParameters { WarpLimitNs = BvtParameters.MaxWarpTimeNs + 1 },
        new BvtParameters { UnwarpRequirementNs = -1 },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void InvalidParametersAreRefusedWithEinval(BvtParameters parameters)
    {
        var bvt = new BvtScheduler(1);
        var good = new BvtParameters { McuAdvance = 3 * BvtParameters.Unit };
        Assert.Equal(0, bvt.AdjustDomain(7, good));

        Assert.Equal(-XenErrno.EINVAL, bvt.AdjustDomain(7, parameters));

        Assert.Equal(good, bvt.DomainParameters(7));
    }

    [Fact]
    public void AnotherSchedulersParametersAreRefused()
    {
        Assert.Equal(-XenErrno.EINVAL, new BvtScheduler(1).AdjustDomain(1, new OtherParameters()));
    }

    [Fact]
    public void ADomainNeverAdjustedHasXensDefaults()
    {
        var p = (BvtParameters)new BvtScheduler(1).DomainParameters(3);

        Assert.Equal(10 * BvtParameters.Unit, p.McuAdvance);
        Assert.False(p.WarpBack);
        Assert.Equal(0, p.WarpValue);
        Assert.Equal(2_000_000_000, p.WarpLimitNs);
        Assert.Equal(1_000_000_000, p.UnwarpRequirementNs);
    }

    [Theory]
    [InlineData(256, 10 * BvtParameters.Unit)]
    [InlineData(512, 5 * BvtParameters.Unit)]
    [InlineData(1, 2560 * BvtParameters.Unit)]
    public void WeightsMapToTheirInverseAsMcuAdvance(int weight, long advance)
    {
        Assert.Equal(advance, BvtParameters.McuAdvanceOfWeight(weight));
    }

    [Fact]
    public void EveryWeightGivesAnAcceptedAdvance()
    {
        Assert.Equal(0, new BvtParameters { McuAdvance = BvtParameters.McuAdvanceOfWeight(65535) }.Validate());
        Assert.Equal(0, new BvtParameters { McuAdvance = BvtParameters.McuAdvanceOfWeight(1) }.Validate());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(99_999)]
    [InlineData(-5)]
    public void AContextSwitchAllowanceBelowOneMcuIsRefused(long ns)
    {
        var bvt = new BvtScheduler(1);
        Assert.Equal(-XenErrno.EINVAL, bvt.SetContextSwitchAllowance(ns));
        Assert.Equal(BvtScheduler.DefaultContextSwitchAllowanceNs, bvt.ContextSwitchAllowanceNs);
        Assert.Equal(0, bvt.SetContextSwitchAllowance(1_000_000));
        Assert.Equal(1_000_000, bvt.ContextSwitchAllowanceNs);
    }

    [Fact]
    public void TheDumpNamesTheSchedulerAndEachSlot()
    {
        var bvt = new BvtScheduler(2);
        var unit = new SchedUnit(4, 1);
        bvt.InsertUnit(unit, 0);
        bvt.Wake(unit, 0);
        bvt.DoSchedule(1, 0);
        var text = new StringWriter();

        bvt.DumpSettings(text);
        bvt.DumpSlot(0, text);
        bvt.DumpSlot(1, text);

        Assert.Equal(
            "BVT: mcu=100000ns ctx_allow=5000000ns svt=0\nslot 0: idle\nslot 1: d4v1 mcuadv=655360 avt=0 evt=0\n",
            text.ToString().ReplaceLineEndings("\n"));
    }
}
