using XenSharp.Hypervisor.Pv;
using XenSharp.Hypervisor.Stub;
using Xunit;

namespace XenSharp.Tests.Emulation;

/// <summary>#UD: only `ud2; "xen"; cpuid` is emulated (Xen's emul-inv-op.c).</summary>
public sealed class ForcedEmulationTests : EmulationFixture
{
    private static readonly byte[] ForcedCpuid = [0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2];

    [Fact]
    public void ForcedCpuidReturnsTheXenSignatureAndSkipsSevenBytes()
    {
        SetReg(StubFrame.Rax, 0xdead_0000_4000_0000); // only EAX counts
        SetReg(StubFrame.Rcx, 0xffff_ffff_0000_0000);
        SetReg(StubFrame.Rbx, ulong.MaxValue);
        SetReg(StubFrame.Rdx, ulong.MaxValue);
        AssertEmulated(Run(6, ForcedCpuid));
        Assert.Equal(Code + 7, Rip);
        Assert.Equal(0x40000005UL, Reg(StubFrame.Rax));
        Assert.Equal(0x566e6558UL, Reg(StubFrame.Rbx));
        Assert.Equal(0x65584d4dUL, Reg(StubFrame.Rcx));
        Assert.Equal(0x4d4d566eUL, Reg(StubFrame.Rdx));
    }

    [Fact]
    public void ForcedCpuidWorksInGuestUserMode()
    {
        V.SetKernelMode(false);
        SetReg(StubFrame.Rax, 0x40000001);
        AssertEmulated(Run(6, ForcedCpuid));
        Assert.Equal((4UL << 16) | 17, Reg(StubFrame.Rax));
    }

    [Theory]
    [InlineData(new byte[] { 0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x90, 0x90 })]    // "xen" then nop
    [InlineData(new byte[] { 0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0x31 })]    // "xen" then rdtsc
    [InlineData(new byte[] { 0x0f, 0x0b, 0x90, 0x90, 0x90, 0x90, 0x90 })]    // plain ud2
    [InlineData(new byte[] { 0x0f, 0x0b, 0x78, 0x65, 0x6f, 0x0f, 0xa2 })]    // "xeo"
    [InlineData(new byte[] { 0x0f, 0xa2, 0x90, 0x90, 0x90, 0x90, 0x90 })]    // bare cpuid
    public void AnythingElseIsLeftToTheGuest(byte[] bytes)
    {
        SetReg(StubFrame.Rax, 0x40000000);
        AssertNotHandled(Run(6, bytes));
        Assert.Equal(Code, Rip);
        Assert.Equal(0x40000000UL, Reg(StubFrame.Rax));
    }

    [Fact]
    public void PrefixRunningOffTheMappingIsAPageFaultAtTheFirstMissingByte()
    {
        // Find the end of the initial mapping and put "ud2; xe" in its last 4 bytes... then the rest is unmapped.
        ulong end = Code;
        while (V.CopyFromGuest(end, new byte[1]))
        {
            end += 4096;
        }

        Put(end - 3, [0x0f, 0x0b, 0x78]);
        V.FrameSet(StubFrame.Rip, end - 3);
        EmulationResult r = PrivilegedOps.TryEmulate(V, 6, Policy);
        AssertFault(r, 14, 0);
        Assert.Equal(end, V.VirtualCr2);
        Assert.Equal(end - 3, Rip);
    }

    [Fact]
    public void SingleSteppingRaisesDebugAfterTheEmulatedInstruction()
    {
        SetReg(StubFrame.Rflags, 0x302); // TF
        SetReg(StubFrame.Rax, 0);
        AssertFault(Run(6, ForcedCpuid), 1, null);
        Assert.Equal(Code + 7, Rip);
        Assert.NotEqual(0UL, V.DebugRegisters[6] & (1UL << 14)); // DR6.BS
    }
}
