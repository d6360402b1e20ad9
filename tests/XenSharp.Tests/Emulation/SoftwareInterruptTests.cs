using System.Buffers.Binary;
using XenSharp.Hypervisor.Pv;
using XenSharp.Hypervisor.Stub;
using Xunit;

namespace XenSharp.Tests.Emulation;

/// <summary>
/// `int n` through a gate the guest may not use, as hardware KVM hands it up: #GP with the IDT bit set. The vector is
/// the instruction's own, and a refused one is #GP((n &lt;&lt; 3) | 2) whatever error code the CPU reported (QEMU's
/// nested SVM reports (n &lt;&lt; 4) | 2), as Xen builds it for `int $0x80` (XTF xsa-259).
/// </summary>
public sealed class SoftwareInterruptTests : EmulationFixture
{
    private const ulong Stack = Data + 0x800;
    private const ulong GpHandler = 0x100000;
    private const ulong Int20Handler = 0x100100;

    private void IntFault(byte n, ulong cpuError)
    {
        Put(Code, [0xcd, n]);
        SetReg(StubFrame.Rip, Code);
        SetReg(StubFrame.Rsp, Stack);
        SetReg(StubFrame.ErrorCode, cpuError);
        GuestExceptions.Handle(V, 13);
    }

    /// <summary>The bounce frame's word <paramref name="i"/> (RCX, R11, [error code], RIP, CS, RFLAGS, RSP, SS).</summary>
    private ulong FrameWord(int i) => BinaryPrimitives.ReadUInt64LittleEndian(Get(Reg(StubFrame.Rsp) + (ulong)(i * 8), 8));

    [Theory]
    [InlineData(0x402UL)] // hardware: (0x80 << 3) | 2
    [InlineData(0x802UL)] // QEMU's nested SVM: (0x80 << 4) | 2
    public void RefusedInt80IsGpWithXensErrorCode(ulong cpuError)
    {
        InstallGpHandler();
        IntFault(0x80, cpuError);
        Assert.Null(D.CrashReason);
        Assert.Equal(GpHandler, Rip);
        Assert.Equal(0x402UL, FrameWord(2)); // error code
        Assert.Equal(Code, FrameWord(3));     // a fault: the return address is the `int` itself
    }

    [Theory]
    [InlineData(0x102UL)]
    [InlineData(0x202UL)]
    public void PermittedIntNGoesToItsOwnHandler(ulong cpuError)
    {
        InstallGpHandler();
        V.TrapTable[0x20] = new Abi.TrapInfo(0x20, 3, 0xe033, Int20Handler);
        IntFault(0x20, cpuError);
        Assert.Null(D.CrashReason);
        Assert.Equal(Int20Handler, Rip);
        Assert.Equal(Code + 2, FrameWord(2)); // no error code; returns past the `int`
    }
}
