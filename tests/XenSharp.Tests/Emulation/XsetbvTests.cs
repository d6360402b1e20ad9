using XenSharp.Hypervisor.Pv.Emulation;
using XenSharp.Hypervisor.Stub;
using Xunit;

namespace XenSharp.Tests.Emulation;

/// <summary>
/// XSETBV from the PV guest kernel (it faults with #GP: the kernel runs in ring 3), and CR4.OSXSAVE, on a host that has
/// XSAVE and AVX (the hardware lane's EPYC): validated as Xen's handle_xsetbv, then set on the machine.
/// </summary>
public sealed class XsetbvTests : EmulationFixture
{
    private const ulong Osxsave = 1UL << 18;
    private static readonly byte[] Xsetbv = [0x0f, 0x01, 0xd1];

    public XsetbvTests()
        : base(HostCpuid.Epyc)
    {
    }

    [Fact]
    public void MovToCr4AcceptsOsxsaveWhenXsaveIsOffered()
    {
        ulong cr4 = V.VirtualCr4;
        SetReg(StubFrame.Rax, cr4 | Osxsave | (1UL << 16));
        AssertEmulated(Gp(0x0f, 0x22, 0xe0));             // mov cr4, rax
        Assert.Equal(cr4 | Osxsave, V.VirtualCr4);        // OSXSAVE sticks, FSGSBASE does not
        Assert.NotEqual(0u, Policy.Query(V, 1, 0, forced: false).Ecx & (1u << 27));
        SetReg(StubFrame.Rax, cr4);
        AssertEmulated(Gp(0x0f, 0x22, 0xe0));
        Assert.Equal(cr4, V.VirtualCr4);
    }

    [Fact]
    public void XsetbvIsInvalidWhileTheGuestsOsxsaveIsClear()
    {
        SetXcr(0, 7);
        AssertFault(Gp(Xsetbv), 6, null);
        V.SetKernelMode(false);
        AssertFault(Gp(Xsetbv), 6, null);                 // #UD comes before the privilege check, as in Xen's emulator
        Assert.Null(Machine.Xcr0);
    }

    [Fact]
    public void XsetbvSetsTheMachinesXcr0()
    {
        V.VirtualCr4 |= Osxsave;
        SetXcr(0, 7);
        AssertEmulated(Gp(Xsetbv));
        Assert.Equal(Code + 3, Rip);
        Assert.Equal(7UL, Machine.Xcr0);
        Assert.Equal(7UL, V.Emulation.Xcr0);
        Assert.Equal(832u, Policy.Query(V, 0xd, 0, forced: true).Ebx);
        SetXcr(0, 3);
        AssertEmulated(Gp(Xsetbv));
        Assert.Equal(3UL, Machine.Xcr0);
    }

    [Theory]
    [InlineData(0u, 0x0UL)]        // x87 must be set
    [InlineData(0u, 0x2UL)]
    [InlineData(0u, 0x5UL)]        // YMM needs SSE
    [InlineData(0u, 0xe7UL)]       // AVX-512: not offered on this host
    [InlineData(0u, 0x1bUL)]       // MPX: not in Xen's PV default
    [InlineData(0u, 0x203UL)]      // PKRU: HVM only
    [InlineData(0u, 1UL << 62)]
    [InlineData(1u, 0x3UL)]        // only XCR0 is writable
    public void XsetbvRefusesWhatThePolicyDoesNotOffer(uint xcr, ulong value)
    {
        V.VirtualCr4 |= Osxsave;
        SetXcr(xcr, value);
        AssertFault(Gp(Xsetbv), 13, 0);
        Assert.Equal(Code, Rip);
        Assert.Null(Machine.Xcr0);
        Assert.Equal(3UL, V.Emulation.Xcr0);
    }

    [Fact]
    public void XsetbvFromGuestUserModeIsGeneralProtection()
    {
        V.VirtualCr4 |= Osxsave;
        V.SetKernelMode(false);
        SetXcr(0, 7);
        AssertFault(Gp(Xsetbv), 13, 0);
        Assert.Null(Machine.Xcr0);
    }

    [Theory]
    [InlineData(0x1UL, true)]
    [InlineData(0x3UL, true)]
    [InlineData(0x7UL, true)]
    [InlineData(0xe7UL, true)]
    [InlineData(0x1bUL, true)]     // both MPX components together
    [InlineData(0x2UL, false)]
    [InlineData(0x5UL, false)]
    [InlineData(0x27UL, false)]    // OPMASK without ZMM and Hi16_ZMM
    [InlineData(0xe3UL, false)]    // AVX-512 without YMM
    [InlineData(0x0bUL, false)]    // BNDREGS without BNDCSR
    public void ValidXcr0IsXens(ulong xcr0, bool valid) => Assert.Equal(valid, ExtendedControlRegisters.IsValidXcr0(xcr0));

    [Fact]
    public void AMachineThatRefusesAnOfferedValueCrashesTheDomain()
    {
        V.VirtualCr4 |= Osxsave;
        Machine.RefuseXcr0 = true;
        SetXcr(0, 7);
        AssertFault(Gp(Xsetbv), 13, 0);
        Assert.StartsWith("XSETBV: the machine refused XCR0 0x7", D.CrashReason);
    }

    [Fact]
    public void OnAHostWithoutXsaveOsxsaveCannotBeSet()
    {
        var pvm = new Hypervisor.Pv.Policy.PvCpuidPolicy(HostCpuid.PvmAmd);
        ulong cr4 = V.VirtualCr4;
        Assert.Equal(cr4, ControlRegisters.FixupCr4(V, pvm, cr4 | Osxsave));
        Assert.False(ExtendedControlRegisters.IsAllowed(pvm, 0, 3));
    }

    [Fact]
    public void EmulatingXsetbvAllocatesNothing()
    {
        V.VirtualCr4 |= Osxsave;
        Put(Code, Xsetbv);
        bool allEmulated = true;
        ulong value = 3;
        Action xsetbv = () =>
        {
            value ^= 4; // 7, 3, 7, ...: the machine is asked every time
            SetXcr(0, value);
            SetReg(StubFrame.Rip, Code);
            allEmulated &= Hypervisor.Pv.PrivilegedOps.TryEmulate(V, 13, Policy).Outcome == Hypervisor.Pv.EmulationOutcome.Emulated;
        };

        Assert.Equal(0, Allocations.LeastPer1000(xsetbv));
        Assert.True(allEmulated);
    }

    private void SetXcr(uint index, ulong value)
    {
        SetReg(StubFrame.Rcx, index);
        SetReg(StubFrame.Rax, value & 0xffffffff);
        SetReg(StubFrame.Rdx, value >> 32);
    }
}
