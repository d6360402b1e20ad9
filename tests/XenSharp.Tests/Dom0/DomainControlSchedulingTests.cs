using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Dom0;
using XenSharp.Hypervisor.Logging;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Scheduling;
using XenSharp.Tests.Builder;
using XenSharp.Toolstack.Builder;
using Xunit;

namespace XenSharp.Tests.Dom0;

/// <summary>
/// The scheduler and memory-maximum parts of the Domain 0 interface, without KVM: a config's BVT parameters reach the
/// scheduler when the builder creates the domain; get/set at run time; BVT's EINVAL; a destroyed domain's parameters
/// are forgotten; no scheduler, no parameters; mem-max bounds and the target it lowers.
/// </summary>
public sealed class DomainControlSchedulingTests : IDisposable
{
    private readonly XenHypervisor _hv = new(new HeapMachineMemory(96 << 20), new HypervisorLog(new StringWriter()), pcpus: 1);

    public void Dispose() => _hv.Dispose();

    [Fact]
    public void TheSchedulerIsBvtOnTheGivenSlots()
    {
        Assert.Equal(("Borrowed Virtual Time", "bvt"), _hv.Control.Scheduler);
        Assert.Equal(1, _hv.Control.PhysicalCpus);
    }

    [Fact]
    public void TheConfigsParametersReachTheSchedulerAtCreation()
    {
        var weighted = new BvtParameters { McuAdvance = BvtParameters.McuAdvanceOfWeight(768), WarpBack = true, WarpValue = 5 * BvtParameters.Unit };
        ushort d = PvDomainBuilder.Build(_hv, new BuildRequest("w", TestDomains.GenericKernel(), 16, 1, "", Scheduling: weighted), new CapturingConsole());
        Assert.Equal(weighted, _hv.Control.GetSchedulerParameters(d));

        ushort plain = PvDomainBuilder.Build(_hv, new BuildRequest("p", TestDomains.GenericKernel(), 16, 1, ""), new CapturingConsole());
        Assert.Equal(new BvtParameters(), _hv.Control.GetSchedulerParameters(plain)); // Xen's defaults
    }

    [Fact]
    public void ParametersChangeAtRunTime_AndBadOnesAreEinval()
    {
        ushort d = TestDomains.Build(_hv).Id;
        var heavy = new BvtParameters { McuAdvance = BvtParameters.McuAdvanceOfWeight(1024) };
        Assert.Equal(0, _hv.Control.SetSchedulerParameters(d, heavy));
        Assert.Equal(heavy, _hv.Control.GetSchedulerParameters(d));

        Assert.Equal(-XenErrno.EINVAL, _hv.Control.SetSchedulerParameters(d, heavy with { McuAdvance = 0 }));
        Assert.Equal(-XenErrno.EINVAL, _hv.Control.SetSchedulerParameters(d, heavy with { WarpLimitNs = -1 }));
        Assert.Equal(heavy, _hv.Control.GetSchedulerParameters(d)); // unchanged by the refusals
    }

    [Fact]
    public void ADestroyedDomainsParametersAreForgotten()
    {
        ushort d = TestDomains.Build(_hv).Id;
        Assert.Equal(0, _hv.Control.SetSchedulerParameters(d, new BvtParameters { McuAdvance = 3 }));
        _hv.Control.Destroy(d);
        Assert.Throws<ArgumentException>(() => _hv.Control.GetSchedulerParameters(d));
    }

    [Fact]
    public void WithoutASchedulerThereAreNoParameters()
    {
        using XenHypervisor bare = TestDomains.Hypervisor();
        ushort d = TestDomains.Build(bare).Id;
        Assert.Null(bare.Control.Scheduler);
        Assert.Equal(0, bare.Control.PhysicalCpus);
        Assert.Null(bare.Control.GetSchedulerParameters(d));
        Assert.Equal(-XenErrno.ENOSYS, bare.Control.SetSchedulerParameters(d, new BvtParameters()));
    }

    [Fact]
    public void MemoryMaximumIsBoundedByTheBuild_AndLowersTheTarget()
    {
        ushort d = TestDomains.Build(_hv, memoryMiB: 16).Id;
        DomainInfo info = _hv.Control.GetInfo(d);
        ulong built = info.MaxPages;
        Assert.Equal(16UL * 256, built);
        Assert.False(_hv.Control.SetMemoryMaximum(d, built + 1));
        Assert.True(_hv.Control.SetMemoryTarget(d, built - 100));
        Assert.True(_hv.Control.SetMemoryMaximum(d, built - 200));
        info = _hv.Control.GetInfo(d);
        Assert.Equal(built - 200, info.MaxPages);
        Assert.Equal(built - 200, info.TargetPages);
        Assert.False(_hv.Control.SetMemoryTarget(d, built - 100)); // above the new maximum
        Assert.True(_hv.Control.SetMemoryMaximum(d, built));
        Assert.Equal(built - 200, _hv.Control.GetInfo(d).TargetPages); // raising the maximum leaves the target
    }
}
