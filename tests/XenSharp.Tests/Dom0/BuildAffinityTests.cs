using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Dom0;
using XenSharp.Hypervisor.Logging;
using XenSharp.Hypervisor.Memory;
using XenSharp.Tests.Builder;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;
using Xunit;

namespace XenSharp.Tests.Dom0;

/// <summary>A config's cpus= and cpus_soft= reach each vCPU when the builder creates the domain, before it runs; a CPU beyond the host's slots fails the build in one line and leaves no domain.</summary>
public sealed class BuildAffinityTests : IDisposable
{
    private const string Minimal = "name = \"g\"\nkernel = \"/k\"\nvcpus = 3\n";

    private readonly XenHypervisor _hv = new(new HeapMachineMemory(96 << 20), new HypervisorLog(new StringWriter()), pcpus: 2);

    public void Dispose() => _hv.Dispose();

    private ushort Build(string lines)
    {
        DomainConfig c = XlConfigParser.Parse(Minimal + lines, "g.cfg");
        return PvDomainBuilder.Build(
            _hv,
            new BuildRequest("g", TestDomains.GenericKernel(), 16, c.Vcpus, "", HardAffinity: c.HardAffinity, SoftAffinity: c.SoftAffinity),
            new CapturingConsole());
    }

    [Fact]
    public void EachVcpuGetsItsMap()
    {
        ushort d = Build("cpus = [ \"1\", \"0\" ]\ncpus_soft = \"0\"\n");
        IReadOnlyList<VcpuInfo> v = _hv.Control.GetVcpus(d);
        Assert.Equal([1], v[0].HardAffinity!);
        Assert.Equal([0], v[1].HardAffinity!);
        Assert.True(v[2].HardAffinity is null || v[2].HardAffinity!.Count == 2); // past the list: every slot
        Assert.All(v, x => Assert.Equal([0], x.SoftAffinity!));
    }

    [Fact]
    public void ACpuTheHostLacksFailsTheBuild_LeavingNoDomain()
    {
        int before = _hv.Control.List().Count;
        var e = Assert.Throws<DomainBuildException>(() => Build("cpus = \"0-2\"\n"));
        Assert.Equal("cpus (vCPU 0): Invalid cpumap '0-2': CPU 2 is out of range (the host has 2 CPUs: 0-1) (see --pcpus)", e.Message);
        Assert.Equal(before, _hv.Control.List().Count);
    }
}
