using Iced.Intel;
using XenSharp.Hypervisor.Pv;
using XenSharp.Hypervisor.Pv.Emulation;
using XenSharp.Hypervisor.Stub;
using Xunit;

namespace XenSharp.Tests.Emulation;

/// <summary>The paths Linux takes thousands of times a second allocate nothing: the #PF bounce and the instruction fetch behind a #GP.</summary>
public sealed class HotPathAllocationTests : EmulationFixture
{
    private const ulong Stack = Data + 0x800;
    private const ulong PfHandler = 0x100200;

    [Fact]
    public void BouncingAPageFaultAllocatesNothing()
    {
        V.TrapTable[14] = new Abi.TrapInfo(14, 0, 0xe033, PfHandler);
        bool allBounced = true;
        Action fault = () =>
        {
            SetReg(StubFrame.Rip, Code);
            SetReg(StubFrame.Rsp, Stack);
            allBounced &= TrapBounce.InjectPageFault(V, 0xdead000, 2);
        };

        Assert.Equal(0, Allocations.LeastPer1000(fault));
        Assert.True(allBounced);
        Assert.Null(D.CrashReason);
        Assert.Equal(PfHandler, Rip);
        Assert.Equal(0xdead000UL, V.VirtualCr2);
    }

    [Fact]
    public void APageFaultThatCannotBeBouncedIsStillDescribed()
    {
        V.TrapTable[14] = new Abi.TrapInfo(14, 0, 0xe033, PfHandler);
        SetReg(StubFrame.Rip, Code);
        SetReg(StubFrame.Rsp, 0x7000_0000_0000); // unmapped: the frame cannot be written

        Assert.False(TrapBounce.InjectPageFault(V, 0xdead000, 2));

        Assert.StartsWith("#PF at 0xdead000 (error 0x2): cannot write the bounce frame", D.CrashReason);
    }

    [Fact]
    public void FetchingTheInstructionBehindAGpAllocatesNothing()
    {
        Put(Code, [0x0f, 0x20, 0xd8]); // mov rax, cr3
        bool allDecoded = true;
        Action fetch = () => allDecoded &= InstructionFetch.TryDecode(V, Code, 64, out Instruction ins, out _) && ins.Mnemonic == Mnemonic.Mov;

        Assert.Equal(0, Allocations.LeastPer1000(fetch));
        Assert.True(allDecoded);
    }

    [Fact]
    public void FetchingAcrossAPageBoundaryDecodesTheWholeInstruction()
    {
        ulong rip = Data - 2;
        Put(rip, [0x0f, 0x20, 0xd8]);

        Assert.True(InstructionFetch.TryDecode(V, rip, 64, out Instruction ins, out _));

        Assert.Equal(Mnemonic.Mov, ins.Mnemonic);
        Assert.Equal(3, ins.Length);
    }
}
