using XenSharp.Kvm.Native;
using Xunit;

namespace XenSharp.Tests.Kvm;

/// <summary>Expected values printed by gcc from linux/kvm.h (linux-libc-dev, x86-64), e.g. printf("%#lx", KVM_SET_SREGS).</summary>
public class IoctlNumberTests
{
    [Theory]
    [InlineData(KvmIoctls.GetApiVersion, 0x0000ae00u)]
    [InlineData(KvmIoctls.CreateVm, 0x0000ae01u)]
    [InlineData(KvmIoctls.CheckExtension, 0x0000ae03u)]
    [InlineData(KvmIoctls.GetVcpuMmapSize, 0x0000ae04u)]
    [InlineData(KvmIoctls.GetSupportedCpuid, 0xc008ae05u)]
    [InlineData(KvmIoctls.CreateVcpu, 0x0000ae41u)]
    [InlineData(KvmIoctls.SetUserMemoryRegion, 0x4020ae46u)]
    [InlineData(KvmIoctls.CreateIrqchip, 0x0000ae60u)]
    [InlineData(KvmIoctls.SignalMsi, 0x4020aea5u)]
    [InlineData(KvmIoctls.Run, 0x0000ae80u)]
    [InlineData(KvmIoctls.GetRegs, 0x8090ae81u)]
    [InlineData(KvmIoctls.SetRegs, 0x4090ae82u)]
    [InlineData(KvmIoctls.GetSregs, 0x8138ae83u)]
    [InlineData(KvmIoctls.GetDebugregs, 0x8080aea1u)]
    [InlineData(KvmIoctls.SetDebugregs, 0x4080aea2u)]
    [InlineData(KvmIoctls.GetFpu, 0x81a0ae8cu)]
    [InlineData(KvmIoctls.SetFpu, 0x41a0ae8du)]
    [InlineData(KvmIoctls.SetSregs, 0x4138ae84u)]
    [InlineData(KvmIoctls.GetMsrs, 0xc008ae88u)]
    [InlineData(KvmIoctls.SetMsrs, 0x4008ae89u)]
    [InlineData(KvmIoctls.SetCpuid2, 0x4008ae90u)]
    [InlineData(KvmIoctls.GetXcrs, 0x8188aea6u)]
    [InlineData(KvmIoctls.SetXcrs, 0x4188aea7u)]
    public void Ioctl_number_matches_gcc(uint actual, uint expected) => Assert.Equal(expected, actual);

    [Fact]
    public void Other_constants_match_gcc()
    {
        Assert.Equal(12, KvmConstants.ApiVersion);
        Assert.Equal(10u, KvmConstants.CapNrMemslots);
        Assert.Equal(74u, KvmConstants.CapSyncRegs);
        Assert.Equal(77u, KvmConstants.CapSignalMsi);
        Assert.Equal(1ul, KvmConstants.SyncX86Regs);
        Assert.Equal(2u, KvmConstants.ExitIo);
        Assert.Equal(5u, KvmConstants.ExitHlt);
        Assert.Equal(6u, KvmConstants.ExitMmio);
        Assert.Equal(8u, KvmConstants.ExitShutdown);
        Assert.Equal(9u, KvmConstants.ExitFailEntry);
        Assert.Equal(10u, KvmConstants.ExitIntr);
        Assert.Equal(17u, KvmConstants.ExitInternalError);
        Assert.Equal(24u, KvmConstants.ExitSystemEvent);
        Assert.Equal(1, KvmConstants.ExitIoOut);
        Assert.Equal(1u, LibC.MFD_CLOEXEC);
        Assert.Equal(2, LibC.FALLOC_FL_PUNCH_HOLE);
        Assert.Equal(1, LibC.FALLOC_FL_KEEP_SIZE);
    }
}
