using XenSharp.Hypervisor.Pv.Policy;
using XenSharp.Hypervisor.Stub;
using Xunit;

namespace XenSharp.Tests.Emulation;

/// <summary>RDMSR/WRMSR through #GP emulation with the PV MSR policy.</summary>
public sealed class MsrPolicyTests : EmulationFixture
{
    private static readonly byte[] Rdmsr = [0x0f, 0x32];
    private static readonly byte[] Wrmsr = [0x0f, 0x30];

    private ulong Read(uint msr)
    {
        SetReg(StubFrame.Rcx, msr);
        AssertEmulated(Gp(Rdmsr));
        Assert.Equal(Code + 2, Rip);
        return (Reg(StubFrame.Rdx) << 32) | Reg(StubFrame.Rax);
    }

    private Hypervisor.Pv.EmulationResult Write(uint msr, ulong value)
    {
        SetReg(StubFrame.Rcx, msr);
        SetReg(StubFrame.Rax, (value & 0xffffffff) | 0xffffffff00000000); // upper halves are ignored
        SetReg(StubFrame.Rdx, value >> 32);
        return Gp(Wrmsr);
    }

    [Fact]
    public void FixedValues()
    {
        InstallGpHandler();
        Assert.Equal(0x0000050100070406UL, Read(MsrIndex.Pat));
        Assert.Equal(0xfee00900UL, Read(MsrIndex.ApicBase));      // enabled, BSP on vCPU 0
        Assert.Equal(0xd01UL, Read(MsrIndex.Efer));
        Assert.Equal(0UL, Read(MsrIndex.PlatformInfo));           // no CPUID faulting
        Assert.Equal(0UL, Read(MsrIndex.MiscFeaturesEnables));
        Assert.Equal(0UL, Read(MsrIndex.PerfCapabilities));
        Assert.Equal(0x123456789aUL, Read(MsrIndex.Tsc));
        Assert.Equal(0UL, Read(MsrIndex.XenHypercallPage));
        Assert.Equal(2UL, Read(MsrIndex.AmdDeCfg));               // LFENCE serialising (AMD host)
        Assert.Equal(0UL, Read(MsrIndex.K8Hwcr));
        Assert.Equal(0UL, Read(MsrIndex.AmdNbCfg));
        Assert.Equal(2UL, Read(MsrIndex.McgCap));                 // AMD: two banks, nothing else
        Assert.Equal(ulong.MaxValue, Read(MsrIndex.Mc0Ctl + 4));  // MC1_CTL
        Assert.Equal(0UL, Read(MsrIndex.Mc0Ctl + 1));             // MC0_STATUS
        Assert.Equal(0UL, Read(MsrIndex.K7EvntSel0));             // vPMU off
        Assert.Equal((0x850089UL & ~0x40080UL) | 0x801800, Read(MsrIndex.MiscEnable)); // the machine's, adjusted
    }

    [Fact]
    public void EferHidesSvmeAndMayOnlyBeWrittenBack()
    {
        InstallGpHandler();
        Machine.Msrs[MsrIndex.Efer] = 0xd01 | (1UL << 12);
        Assert.Equal(0xd01UL, Read(MsrIndex.Efer));
        AssertEmulated(Write(MsrIndex.Efer, 0xd01));
        AssertFault(Write(MsrIndex.Efer, 0x501), 13, 0);
        Assert.Equal(Code, Rip);
    }

    [Fact]
    public void SegmentBasesAreLiveAndCanonical()
    {
        InstallGpHandler();
        AssertEmulated(Write(MsrIndex.FsBase, 0x7fff_1234_5000));
        Assert.Equal(0x7fff_1234_5000UL, Machine.Msrs[MsrIndex.FsBase]);
        Assert.Equal(0x7fff_1234_5000UL, Read(MsrIndex.FsBase));
        AssertEmulated(Write(MsrIndex.GsBase, 0xffff_8880_0000_1000));
        Assert.Equal(0xffff_8880_0000_1000UL, Machine.Msrs[MsrIndex.GsBase]);
        AssertEmulated(Write(MsrIndex.ShadowGsBase, 0x6000));     // the user GS base: hardware KERNEL_GS_BASE in kernel mode
        Assert.Equal(0x6000UL, Machine.Msrs[MsrIndex.ShadowGsBase]);
        Assert.Equal(0x6000UL, Read(MsrIndex.ShadowGsBase));
        AssertFault(Write(MsrIndex.FsBase, 0x0000_8000_0000_0000), 13, 0);
        AssertFault(Write(MsrIndex.GsBase, 0x8000_0000_0000_0000), 13, 0);
        Assert.Equal(0x7fff_1234_5000UL, Machine.Msrs[MsrIndex.FsBase]);
    }

    [Fact]
    public void UnknownMsrsFaultOnceTheGuestCanHandleIt()
    {
        InstallGpHandler();
        SetReg(StubFrame.Rcx, 0x1d9);                             // DEBUGCTL: not offered to PV guests
        AssertFault(Gp(Rdmsr), 13, 0);
        AssertFault(Write(MsrIndex.Pat, 0x0007040600070406), 13, 0); // PAT is read-only
        AssertFault(Write(MsrIndex.PlatformInfo, 0), 13, 0);
        AssertFault(Write(MsrIndex.MiscFeaturesEnables, 1), 13, 0);  // no CPUID faulting to enable
        AssertEmulated(Write(MsrIndex.MiscFeaturesEnables, 0));
        SetReg(StubFrame.Rcx, 0x48);                              // SPEC_CTRL: not virtualised
        AssertFault(Gp(Rdmsr), 13, 0);
        SetReg(StubFrame.Rcx, MsrIndex.FeatureControl);           // Intel-only
        AssertFault(Gp(Rdmsr), 13, 0);
        SetReg(StubFrame.Rcx, MsrIndex.McgExtCtl);                // no LMCE
        AssertFault(Gp(Rdmsr), 13, 0);
        SetReg(StubFrame.Rcx, 0x40000001);
        AssertFault(Gp(Rdmsr), 13, 0);
    }

    [Fact]
    public void WithoutAGpHandlerMsrsTheMachineHasReadAsZero()
    {
        SetReg(StubFrame.Rcx, 0x1d9);                             // DEBUGCTL exists on the machine: faked
        AssertEmulated(Gp(Rdmsr));
        Assert.Equal(0UL, Reg(StubFrame.Rax));
        Assert.Contains("faking RDMSR 0x000001d9", Log.ToString());
        SetReg(StubFrame.Rcx, 0x12345);                           // absent everywhere: #GP
        AssertFault(Gp(Rdmsr), 13, 0);
        SetReg(StubFrame.Rcx, 0x40000010);                        // the hypervisor range is never faked
        AssertFault(Gp(Rdmsr), 13, 0);
    }

    [Fact]
    public void MachineCheckRegistersOnlyClear()
    {
        InstallGpHandler();
        AssertEmulated(Write(MsrIndex.Mc0Ctl + 1, 0));            // MC0_STATUS cleared
        AssertFault(Write(MsrIndex.Mc0Ctl + 1, 5), 13, 0);
        AssertEmulated(Write(MsrIndex.Mc0Ctl, 0));                // MCi_CTL ignores writes
        AssertEmulated(Write(MsrIndex.McgStatus, 4));
        Assert.Equal(4UL, Read(MsrIndex.McgStatus));
        AssertEmulated(Write(MsrIndex.K7EvntSel0 + 1, 0x1234));   // PMU writes dropped
    }

    [Fact]
    public void HypercallPageMsrWritesTheStubsIntoTheFrame()
    {
        InstallGpHandler();
        Hypervisor.Memory.Mfn target = D.P2m[0x201];              // the Data page
        AssertEmulated(Write(MsrIndex.XenHypercallPage, target.Address));
        byte[] page = Get(Data, 4096);
        Assert.Equal(Hypervisor.Pv.HypercallPage.Create(), page);
        AssertFault(Write(MsrIndex.XenHypercallPage, target.Address | 1), 13, 0); // page index must be 0
        AssertFault(Write(MsrIndex.XenHypercallPage, 0x1000), 13, 0);              // not the domain's frame
        AssertFault(Write(MsrIndex.XenHypercallPage + 1, 0), 13, 0);
    }

    [Fact]
    public void IntelHostMsrs()
    {
        var p = new PvCpuidPolicy(HostCpuid.RichIntel);
        InstallGpHandler();
        Assert.True(MsrPolicy.TryRead(V, p, MsrIndex.FeatureControl, out ulong fc));
        Assert.Equal(1UL, fc);                                    // locked, VMX off
        Assert.True(MsrPolicy.TryRead(V, p, MsrIndex.MiscEnable, out ulong misc));
        Assert.Equal((0x850089UL & ~0x40080UL) | 0x801800, misc); // PERF_AVAIL, MONITOR off; BTS/PEBS unavailable, xTPR off
        Assert.True(MsrPolicy.TryWrite(V, p, MsrIndex.MiscEnable, 0));  // dropped
        Assert.True(MsrPolicy.TryRead(V, p, MsrIndex.McgCap, out ulong cap));
        Assert.Equal(0x1000c02UL, cap);
        Assert.True(MsrPolicy.TryRead(V, p, MsrIndex.P6PerfCtr0, out _));
        Assert.False(MsrPolicy.TryRead(V, p, MsrIndex.AmdDeCfg, out _));
        Assert.True(MsrPolicy.TryWrite(V, p, MsrIndex.UcodeRevision, 0));
        Assert.False(MsrPolicy.TryWrite(V, p, MsrIndex.UcodeRevision, 1));
        Assert.True(MsrPolicy.TryRead(V, p, MsrIndex.ApicBase, out _));
    }

    [Fact]
    public void UserModeMsrAccessIsGeneralProtection()
    {
        V.SetKernelMode(false);
        SetReg(StubFrame.Rcx, MsrIndex.Pat);
        AssertFault(Gp(Rdmsr), 13, 0);
        AssertFault(Write(MsrIndex.FsBase, 0), 13, 0);
    }
}
