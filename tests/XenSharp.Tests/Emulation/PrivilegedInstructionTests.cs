using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Pv;
using XenSharp.Hypervisor.Stub;
using Xunit;

namespace XenSharp.Tests.Emulation;

/// <summary>#GP emulation of control/debug registers, CLTS, WBINVD, RDTSC, CPUID, XSETBV, CLI/STI and refusals.</summary>
public sealed class PrivilegedInstructionTests : EmulationFixture
{
    [Fact]
    public void MovFromControlRegisters()
    {
        V.VirtualCr2 = 0xdeadbeef000;
        AssertEmulated(Gp(0x0f, 0x20, 0xc0));             // mov rax, cr0
        Assert.Equal(V.VirtualCr0, Reg(StubFrame.Rax));
        Assert.Equal(Code + 3, Rip);
        AssertEmulated(Gp(0x0f, 0x20, 0xd3));             // mov rbx, cr2
        Assert.Equal(0xdeadbeef000UL, Reg(StubFrame.Rbx));
        AssertEmulated(Gp(0x0f, 0x20, 0xd9));             // mov rcx, cr3
        Assert.Equal(V.KernelL4.Address, Reg(StubFrame.Rcx));
        AssertEmulated(Gp(0x0f, 0x20, 0xe2));             // mov rdx, cr4
        Assert.Equal(V.VirtualCr4, Reg(StubFrame.Rdx));
        AssertEmulated(Gp(0x41, 0x0f, 0x20, 0xc7));       // mov r15, cr0
        Assert.Equal(V.VirtualCr0, Reg(StubFrame.R15));
        Assert.Equal(Code + 4, Rip);
    }

    [Fact]
    public void ControlRegistersAreKernelOnly()
    {
        V.SetKernelMode(false);
        AssertFault(Gp(0x0f, 0x20, 0xc0), 13, 0);
        AssertFault(Gp(0x0f, 0x06), 13, 0);               // clts
        AssertFault(Gp(0x0f, 0x32), 13, 0);               // rdmsr
        AssertFault(Gp(0x0f, 0x21, 0xf8), 13, 0);         // mov rax, dr7
        Assert.Equal(Code, Rip);
    }

    [Fact]
    public void MovToCr0MayOnlyChangeTs()
    {
        ulong cr0 = V.VirtualCr0;
        SetReg(StubFrame.Rax, cr0 | 8);
        AssertEmulated(Gp(0x0f, 0x22, 0xc0));             // mov cr0, rax
        Assert.Equal(cr0 | 8, V.VirtualCr0);
        AssertEmulated(Gp(0x0f, 0x06));                   // clts
        Assert.Equal(cr0 & ~8UL, V.VirtualCr0);
        Assert.Equal(Code + 2, Rip);
        SetReg(StubFrame.Rax, cr0 & ~0x10000UL);          // clear WP
        AssertNotHandled(Gp(0x0f, 0x22, 0xc0));
        Assert.Equal(Code, Rip);
    }

    [Fact]
    public void MovToCr4KeepsOnlyTheGuestsBitsWithinThePolicy()
    {
        ulong cr4 = V.VirtualCr4;
        SetReg(StubFrame.Rax, cr4 | (1UL << 3) | (1UL << 16) | (1UL << 18) | (1UL << 2) | (1UL << 20)); // DE FSGSBASE OSXSAVE TSD SMAP
        AssertEmulated(Gp(0x0f, 0x22, 0xe0));             // mov cr4, rax
        Assert.Equal(cr4 | (1UL << 3), V.VirtualCr4);     // only DE sticks
        SetReg(StubFrame.Rax, 0);
        AssertEmulated(Gp(0x0f, 0x22, 0xe0));
        Assert.Equal(cr4, V.VirtualCr4);                  // the hypervisor's bits stay
    }

    [Fact]
    public void MovToCr2AndCr3()
    {
        SetReg(StubFrame.Rax, 0x1234000);
        AssertEmulated(Gp(0x0f, 0x22, 0xd0));             // mov cr2, rax
        Assert.Equal(0x1234000UL, V.VirtualCr2);
        Assert.Equal(0x1234000UL, BinaryPrimitives.ReadUInt64LittleEndian(V.VcpuInfo[SharedInfoLayout.ArchCr2..]));
        SetReg(StubFrame.Rax, V.KernelL4.Address);
        AssertEmulated(Gp(0x0f, 0x22, 0xd8));             // mov cr3, rax (the current L4: accepted)
        SetReg(StubFrame.Rax, 0x1000);                    // a frame the domain does not own: refused
        AssertNotHandled(Gp(0x0f, 0x22, 0xd8));
        AssertNotHandled(Gp(0x44, 0x0f, 0x20, 0xc0));     // mov rax, cr8: not a PV register
    }

    [Fact]
    public void DebugRegistersThroughMov()
    {
        SetReg(StubFrame.Rax, 0x7000_0000);
        AssertEmulated(Gp(0x0f, 0x23, 0xc0));             // mov dr0, rax
        Assert.Equal(0x7000_0000UL, V.DebugRegisters[0]);
        AssertEmulated(Gp(0x0f, 0x21, 0xf9));             // mov rcx, dr7
        Assert.Equal(0x400UL, Reg(StubFrame.Rcx));
        AssertEmulated(Gp(0x0f, 0x21, 0xe2));             // mov rdx, dr4 (aliases dr6 without CR4.DE)
        Assert.Equal(0xffff0ff0UL, Reg(StubFrame.Rdx));
        SetReg(StubFrame.Rax, 0x2400);                    // GD
        AssertFault(Gp(0x0f, 0x23, 0xf8), 13, 0);         // mov dr7, rax
        SetReg(StubFrame.Rax, XenVirtualLayout.HypervisorVirtStart);
        AssertFault(Gp(0x0f, 0x23, 0xc8), 13, 0);         // mov dr1, rax: the hypervisor's range
        V.VirtualCr4 |= 1UL << 3;                         // CR4.DE: DR4/5 no longer exist
        AssertFault(Gp(0x0f, 0x21, 0xe2), 6, null);
        AssertFault(Gp(0x0f, 0x23, 0xe8), 6, null);       // mov dr5, rax
        Assert.Equal(Code, Rip);
    }

    [Fact]
    public void WbinvdIsIgnoredAndRdtscReadsTheMachine()
    {
        AssertEmulated(Gp(0x0f, 0x09));
        Assert.Equal(Code + 2, Rip);
        AssertEmulated(Gp(0x0f, 0x31));                   // rdtsc (only if CR4.TSD ever faults it)
        Assert.Equal(0x3456789aUL, Reg(StubFrame.Rax));
        Assert.Equal(0x12UL, Reg(StubFrame.Rdx));
        AssertFault(Gp(0x0f, 0x01, 0xf9), 6, null);       // rdtscp: the policy has no RDTSCP
    }

    [Fact]
    public void CpuidOnGeneralProtectionUsesThePolicy()
    {
        SetReg(StubFrame.Rax, 0x40000000);
        AssertEmulated(Gp(0x0f, 0xa2));
        Assert.Equal(0x566e6558UL, Reg(StubFrame.Rbx));
        Assert.Equal(Code + 2, Rip);
    }

    [Fact]
    public void XsetbvIsInvalidWhileOsxsaveIsOff()
    {
        AssertFault(Gp(0x0f, 0x01, 0xd1), 6, null);
        V.SetKernelMode(false);
        AssertFault(Gp(0x0f, 0x01, 0xd1), 6, null);       // #UD before the privilege check (XsetbvTests has the rest)
    }

    [Fact]
    public void CliStiNeedIopl()
    {
        AssertNotHandled(Gp(0xfa));
        V.VirtualIopl = 1;
        AssertEmulated(Gp(0xfa));
        Assert.Equal(Code + 1, Rip);
        AssertEmulated(Gp(0xfb));
        V.SetKernelMode(false);
        AssertNotHandled(Gp(0xfa));                       // user mode is CPL 3
        V.VirtualIopl = 3;
        AssertEmulated(Gp(0xfa));
    }

    [Fact]
    public void OtherPrivilegedInstructionsAreNotEmulated()
    {
        AssertNotHandled(Gp(0x0f, 0x01, 0x54, 0x24, 0x06)); // lgdt [rsp+6]
        AssertNotHandled(Gp(0xf4));                         // hlt
        AssertNotHandled(Gp(0x0f, 0x01, 0xf8));             // swapgs
        AssertNotHandled(Gp(0x0f, 0x01, 0x3b));             // invlpg [rbx]
        AssertNotHandled(Gp(0x0f, 0xff));                   // invalid bytes
        Assert.Equal(Code, Rip);
    }

    [Fact]
    public void OnlyGeneralProtectionWithErrorCodeZeroIsEmulated()
    {
        SetReg(StubFrame.ErrorCode, 0x18);
        AssertNotHandled(Gp(0x0f, 0x20, 0xc0));
        Assert.Equal(Code, Rip);
        SetReg(StubFrame.ErrorCode, 0);
        AssertEmulated(Gp(0x0f, 0x20, 0xc0));
    }

    [Fact]
    public void UnreadableRipIsAPageFault()
    {
        V.FrameSet(StubFrame.Rip, 0x0000_7000_0000_0000);
        AssertFault(PrivilegedOps.TryEmulate(V, 13, Policy), 14, 0);
        Assert.Equal(0x0000_7000_0000_0000UL, V.VirtualCr2);
    }
}
