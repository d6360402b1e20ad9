using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Stub;
using Xunit;

namespace XenSharp.Tests.Emulation;

/// <summary>IN/OUT/INS/OUTS: virtual IOPL and the I/O bitmap decide; a domU without devices reads all ones.</summary>
public sealed class PortIoTests : EmulationFixture
{
    private long SetIopl(uint iopl)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, iopl);
        Put(Data, b);
        return Call(HypercallNumber.PhysdevOp, PhysdevHypercall.SetIopl, Data);
    }

    [Fact]
    public void WithoutIoplPortAccessIsGeneralProtection()
    {
        AssertFault(Gp(0xe6, 0x80), 13, 0);              // out 0x80, al
        AssertFault(Gp(0xe4, 0x61), 13, 0);              // in al, 0x61
        Assert.Equal(Code, Rip);
    }

    [Fact]
    public void KernelCountsAsRing1ForIopl()
    {
        Assert.Equal(0, SetIopl(1));
        SetReg(StubFrame.Rax, 0x1122_3344_5566_7700);
        AssertEmulated(Gp(0xe6, 0x80));                  // out 0x80, al: dropped
        Assert.Equal(Code + 2, Rip);
        AssertEmulated(Gp(0xe4, 0x61));                  // in al, 0x61: no PIT for a domU
        Assert.Equal(0x1122_3344_5566_77ffUL, Reg(StubFrame.Rax));
        SetReg(StubFrame.Rdx, 0x3f8);
        AssertEmulated(Gp(0x66, 0xed));                  // in ax, dx
        Assert.Equal(0x1122_3344_5566_ffffUL, Reg(StubFrame.Rax));
        AssertEmulated(Gp(0xed));                        // in eax, dx: zero-extends
        Assert.Equal(0xffff_ffffUL, Reg(StubFrame.Rax));
        V.SetKernelMode(false);
        AssertFault(Gp(0xe6, 0x80), 13, 0);              // user mode is CPL 3
        Assert.Equal(0, SetIopl(3));
        AssertEmulated(Gp(0xe6, 0x80));
        Assert.Equal(-XenErrno.EINVAL, SetIopl(4));
    }

    [Fact]
    public void ArchitecturalIoplMakesTheKernelRing0()
    {
        D.VmAssist |= 1UL << VmAssist.TypeArchitecturalIopl;
        AssertEmulated(Gp(0xe6, 0x80));
        V.SetKernelMode(false);
        AssertFault(Gp(0xe6, 0x80), 13, 0);
    }

    [Fact]
    public void RtcIndexAndPciAddressLatch()
    {
        Assert.Equal(0, SetIopl(1));
        SetReg(StubFrame.Rax, 0x8f);
        AssertEmulated(Gp(0xe6, 0x70));                  // out 0x70, al
        SetReg(StubFrame.Rax, 0);
        AssertEmulated(Gp(0xe4, 0x70));                  // in al, 0x70: the index, NMI bit clear
        Assert.Equal(0x0fUL, Reg(StubFrame.Rax));
        AssertEmulated(Gp(0xe4, 0x71));                  // the RTC itself is out of reach
        Assert.Equal(0xffUL, Reg(StubFrame.Rax));
        SetReg(StubFrame.Rdx, 0xcf8);
        SetReg(StubFrame.Rax, 0x8000_1234);
        AssertEmulated(Gp(0xef));                        // out dx, eax
        SetReg(StubFrame.Rax, 0);
        AssertEmulated(Gp(0xed));                        // in eax, dx
        Assert.Equal(0x8000_1234UL, Reg(StubFrame.Rax));
        SetReg(StubFrame.Rdx, 0xcfc);
        AssertEmulated(Gp(0xed));                        // no configuration space
        Assert.Equal(0xffff_ffffUL, Reg(StubFrame.Rax));
    }

    [Fact]
    public void IoBitmapGrantsClearedPorts()
    {
        var bitmap = new byte[32];
        bitmap.AsSpan().Fill(0xff);
        bitmap[0x80 >> 3] = 0xfe;                        // port 0x80 allowed, 0x81.. denied
        Put(Data + 0x100, bitmap);
        var arg = new byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(arg, Data + 0x100);
        BinaryPrimitives.WriteUInt32LittleEndian(arg.AsSpan(8), 0x88);
        Put(Data, arg);
        Assert.Equal(0, Call(HypercallNumber.PhysdevOp, PhysdevHypercall.SetIobitmap, Data));
        AssertEmulated(Gp(0xe6, 0x80));
        AssertFault(Gp(0xe6, 0x81), 13, 0);
        SetReg(StubFrame.Rdx, 0x80);
        AssertFault(Gp(0x66, 0xef), 13, 0);              // out dx, ax covers 0x81 too
        AssertFault(Gp(0xe6, 0x90), 13, 0);              // past nr_ports: IOPL only
        V.SetKernelMode(false);
        AssertEmulated(Gp(0xe6, 0x80));                  // the bitmap applies in user mode too

        BinaryPrimitives.WriteUInt64LittleEndian(arg, 0xffff_8000_0000_0000);
        Put(Data, arg);
        V.SetKernelMode(true);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.PhysdevOp, PhysdevHypercall.SetIobitmap, Data));
    }

    [Fact]
    public void UnreadableBitmapIsAPageFault()
    {
        V.Emulation.IoBitmap = 0x0000_7000_0000_0000;
        V.Emulation.IoBitmapPorts = 0x100;
        AssertFault(Gp(0xe6, 0x80), 14, 0);
        Assert.Equal(0x0000_7000_0000_0010UL, V.VirtualCr2);
    }

    [Fact]
    public void RepInsAndOutsWalkGuestMemory()
    {
        Assert.Equal(0, SetIopl(1));
        Put(Data, new byte[8]);
        SetReg(StubFrame.Rdx, 0x61);
        SetReg(StubFrame.Rdi, Data);
        SetReg(StubFrame.Rcx, 5);
        AssertEmulated(Gp(0xf3, 0x6c));                  // rep insb
        Assert.Equal(new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0 }, Get(Data, 8));
        Assert.Equal(Data + 5, Reg(StubFrame.Rdi));
        Assert.Equal(0UL, Reg(StubFrame.Rcx));
        Assert.Equal(Code + 2, Rip);

        SetReg(StubFrame.Rsi, Data + 4);
        SetReg(StubFrame.Rcx, 2);
        SetReg(StubFrame.Rflags, 0x602);                 // DF: backwards
        AssertEmulated(Gp(0xf3, 0x66, 0x6f));            // rep outsw
        Assert.Equal(Data, Reg(StubFrame.Rsi));
        Assert.Equal(Code + 3, Rip);

        SetReg(StubFrame.Rflags, 0x202);
        SetReg(StubFrame.Rdi, 0x0000_7000_0000_0000);
        SetReg(StubFrame.Rcx, 1);
        AssertFault(Gp(0xf3, 0x6c), 14, 2);              // write fault on the destination
        Assert.Equal(0x0000_7000_0000_0000UL, V.VirtualCr2);
    }

    [Fact]
    public void IoBreakpointsTrapAfterTheAccess()
    {
        Assert.Equal(0, SetIopl(1));
        V.VirtualCr4 |= 1UL << 3;                        // CR4.DE
        Assert.Equal(0, Call(HypercallNumber.SetDebugreg, 0, 0x80));
        ulong dr7 = 0x400 | 2 | (2UL << 16);             // G0, R/W0 = I/O, len 1
        Assert.Equal(0, Call(HypercallNumber.SetDebugreg, 7, dr7));
        Assert.Equal((long)dr7, Call(HypercallNumber.GetDebugreg, 7));
        AssertFault(Gp(0xe6, 0x80), 1, null);
        Assert.Equal(Code + 2, Rip);
        Assert.Equal(1UL, V.DebugRegisters[6] & 0xf);
        AssertEmulated(Gp(0xe6, 0x81));
    }
}
