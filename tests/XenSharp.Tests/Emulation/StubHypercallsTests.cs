using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Stub;
using Xunit;

namespace XenSharp.Tests.Emulation;

/// <summary>
/// The host's side of the hypercalls the stub answers in the VM (Stub/StubHypercalls): the kernel stack stack_switch
/// sets lives in the data page, whoever writes it (the host's handler or the stub), and the stub's counts show in the
/// exit summary apart from the exits. The stub's own code runs in the KVM lanes (PvCpuAndMmuTests: privops, usermode).
/// </summary>
public sealed class StubHypercallsTests : EmulationFixture
{
    private Span<byte> DataPage => D.Pool.Memory.GetSpan(D.StubPages.DataMachineAddress(V.Id), 4096);

    [Fact]
    public void TheKernelStackIsTheDataPages_SetByTheHostOrByTheStub()
    {
        Assert.Equal(0, Call(HypercallNumber.StackSwitch, 0xe02b, 0x7000));
        Assert.Equal(0xe02bUL, V.KernelSs);
        Assert.Equal(0x7000UL, V.KernelSp);
        Assert.Equal(0x7000UL, BinaryPrimitives.ReadUInt64LittleEndian(DataPage[StubLayout.DataKernelSp..]));

        // What the stub's stack_switch writes (RPL 3 forced, as the host's handler does) is what the host then reads.
        BinaryPrimitives.WriteUInt64LittleEndian(DataPage[StubLayout.DataKernelSs..], 0xe02b);
        BinaryPrimitives.WriteUInt64LittleEndian(DataPage[StubLayout.DataKernelSp..], 0x9000);
        Assert.Equal(0xe02bUL, V.KernelSs);
        Assert.Equal(0x9000UL, V.KernelSp);
        Assert.Equal(0, Call(HypercallNumber.StackSwitch, 0xe028, 0xa000));
        Assert.Equal(0xe02bUL, V.KernelSs);
    }

    [Fact]
    public void TheDomainCountsWhatTheStubAnsweredApartFromExits()
    {
        var c = new XenSharp.Hypervisor.Domains.ExitCounts();
        BinaryPrimitives.WriteUInt64LittleEndian(DataPage[StubLayout.DataSegmentBaseInVm..], 7);
        BinaryPrimitives.WriteUInt64LittleEndian(DataPage[StubLayout.DataStackSwitchInVm..], 3);
        c.CountHypercallsInVm(D.StubPages.HypercallsInVm);
        Assert.Equal(7, c.HypercallsInVm(HypercallNumber.SetSegmentBase));
        Assert.Equal(0, c.HypercallsInVm(HypercallNumber.Iret));
        Assert.Contains("; hypercalls 0; hypercalls answered in the VM 10 (set_segment_base 7, stack_switch 3); vectors 0", c.Summary());
        Assert.StartsWith("exits: 0 in ", c.Summary());
    }
}
