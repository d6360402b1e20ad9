using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Logging;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Time;
using XenSharp.Tests.Image;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Image;
using static XenSharp.Tests.Image.XenNotes;

namespace XenSharp.Tests.Builder;

/// <summary>Domains built on heap memory, without KVM: for the builder and hypercall handlers.</summary>
internal static class TestDomains
{
    public const ulong HypercallPageVa = TestKernels.GenericStart + 0x1000;

    public static XenHypervisor Hypervisor(StringWriter? log = null, IHostClock? clock = null) =>
        new(new HeapMachineMemory(96 << 20), new HypervisorLog(log ?? new StringWriter()), clock: clock, timerThread: clock is null);

    public static KernelImage GenericKernel() =>
        KernelImage.Parse(
            TestKernels.Generic([.. TestKernels.GenericNotes, U64(HypercallPage, HypercallPageVa)]).Build().Bytes,
            "test-kernel");

    public static Domain Build(XenHypervisor hv, int memoryMiB = 16, string cmdline = "hello=1", IConsoleSink? console = null, int vcpus = 1) =>
        hv.Control.Get(PvDomainBuilder.Build(hv, new BuildRequest("t", GenericKernel(), memoryMiB, vcpus, cmdline), console ?? new CapturingConsole()));
}
