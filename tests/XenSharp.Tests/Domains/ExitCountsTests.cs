using Iced.Intel;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Stub;
using XenSharp.Tests.Builder;
using Xunit;

namespace XenSharp.Tests.Domains;

/// <summary>`run --exit-stats`: a domain's exits by reason, counted without allocating, summarised in one line.</summary>
public sealed class ExitCountsTests
{
    [Fact]
    public void CountsEachReasonAndSummarisesTheLargestFirst()
    {
        var c = new ExitCounts();
        for (int i = 0; i < 5; i++)
        {
            c.Hypercall(HypercallNumber.MmuUpdate);
        }

        c.Hypercall(HypercallNumber.XenVersion);
        c.Hypercall(1000);
        c.Vector(14);
        c.Vector(StubVector.GuestSyscall);
        c.Interrupted();
        c.Emulated(Mnemonic.In);
        c.Emulated(Mnemonic.In);
        c.Port(0x61);
        c.Port(0x61);
        c.ForcedCpuid();
        c.Multicalled(HypercallNumber.UpdateVaMapping);

        Assert.Equal(5, c.HypercallCount(HypercallNumber.MmuUpdate));
        Assert.Equal(1, c.VectorCount(14));
        Assert.Equal(2, c.PortCount(0x61));
        Assert.Equal(2, c.EmulatedCount(Mnemonic.In));
        Assert.Equal(7 + 2 + 1, c.Total); // multicall entries, emulations and ports are not exits of their own
        string s = c.Summary();
        Assert.StartsWith("exits: 10 in ", s);
        Assert.Contains("; hypercalls 7 (mmu_update 5, xen_version 1, 64+ 1)", s);
        Assert.Contains("; vectors 2 (", s);
        Assert.Contains("#PF 1", s);
        Assert.Contains("syscall 1", s);
        Assert.Contains("; kicks from the host 1", s);
        Assert.Contains("; emulated 2 (in 2)", s);
        Assert.Contains("; forced cpuid 1", s);
        Assert.Contains("; ports 2 (0x61 2)", s);
        Assert.Contains("; multicall entries 1 (update_va_mapping 1)", s);
    }

    [Fact]
    public void ShowsOnlyTheTopEntriesAndHowManyMore()
    {
        var c = new ExitCounts();
        for (uint p = 0; p < 12; p++)
        {
            c.Port(0x40 + p);
        }

        Assert.Contains(", 2 more)", c.Summary(top: 10));
    }

    [Fact]
    public void CountingAllocatesNothing()
    {
        var c = new ExitCounts();
        c.Hypercall(1); c.Vector(13); c.Emulated(Mnemonic.Rdmsr); c.Port(0x70); c.Interrupted(); c.ForcedCpuid(); c.Multicalled(1); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            c.Hypercall((ulong)i);
            c.Vector((ulong)i);
            c.Emulated(Mnemonic.Rdmsr);
            c.Port((uint)i);
            c.Interrupted();
            c.ForcedCpuid();
            c.Multicalled((ulong)i);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void ADomainCountsOnlyWhenTheHypervisorDoesAndLogsTheSummaryAtItsEnd()
    {
        var log = new StringWriter();
        using XenHypervisor hv = TestDomains.Hypervisor(log);
        Domain quiet = TestDomains.Build(hv);
        Assert.Null(quiet.Exits);
        hv.CountExits = true;
        Domain counted = TestDomains.Build(hv);
        Assert.NotNull(counted.Exits);
        counted.Exits!.Hypercall(HypercallNumber.SchedOp);
        hv.Destroy(counted);
        hv.Destroy(quiet);
        string text = log.ToString();
        Assert.Contains($"(d{counted.Id}) exits: 1 in ", text);
        Assert.Contains("sched_op 1", text);
        Assert.DoesNotContain($"(d{quiet.Id}) exits:", text);
    }
}
