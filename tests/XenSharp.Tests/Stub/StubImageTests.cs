using Iced.Intel;
using XenSharp.Hypervisor.Stub;
using Xunit;

namespace XenSharp.Tests.Stub;

public class StubImageTests
{
    private static readonly StubImage Image = StubImage.Emit();

    private static List<Instruction> DecodeFrom(ulong address, int count)
    {
        int offset = (int)(address - StubImage.TrampolineBase);
        var d = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(Image.Code, offset, Image.Code.Length - offset), address);
        var list = new List<Instruction>();
        for (int i = 0; i < count; i++)
        {
            list.Add(d.Decode());
        }

        return list;
    }

    [Fact]
    public void EachSyscallTrampolineSwitchesToItsOwnVcpuStack()
    {
        for (int v = 0; v < StubLayout.MaxVcpus; v++)
        {
            List<Instruction> t = DecodeFrom(StubImage.SyscallEntry(v), 3);
            Assert.Equal(Mnemonic.Mov, t[0].Mnemonic);
            Assert.True(t[0].IsIPRelativeMemoryOperand);
            Assert.Equal(StubLayout.DataPage(v) + StubLayout.DataScratchRsp, t[0].IPRelativeMemoryAddress);
            Assert.Equal(Register.RSP, t[1].Op0Register);
            Assert.Equal(StubLayout.StackTop(v), t[1].GetImmediate(1));
        }
    }

    [Fact]
    public void VectorEntriesPushADummyErrorCodeOnlyWhereTheCpuPushesNone()
    {
        for (int v = 0; v < 256; v++)
        {
            ulong entry = v == StubVector.Kick ? KickFromGuest() : Image.VectorEntries[v];
            List<Instruction> e = DecodeFrom(entry, 3);
            if (StubVector.HasErrorCode(v))
            {
                Assert.Equal((ulong)v, e[0].GetImmediate(0));
                Assert.Equal(Mnemonic.Jmp, e[1].Mnemonic);
            }
            else
            {
                Assert.Equal(0UL, e[0].GetImmediate(0));
                Assert.Equal((ulong)v, e[1].GetImmediate(0));
                Assert.Equal(Mnemonic.Jmp, e[2].Mnemonic);
            }
        }
    }

    /// <summary>Where the kick entry goes on for a delivery from the guest (past its ring-0 filter).</summary>
    private static ulong KickFromGuest()
    {
        List<Instruction> f = DecodeFrom(Image.VectorEntries[StubVector.Kick], 2);
        Assert.Equal(Mnemonic.Jne, f[1].Mnemonic);
        return f[1].NearBranchTarget;
    }

    [Fact]
    public void AKickDeliveredInRing0IsDismissedWithABareIretq()
    {
        // QEMU's nested SVM delivers an injected interrupt a second time, in ring 0 with IF clear (StubImage's
        // EmitRing0KickFilter): the entry looks at the CS the CPU pushed and returns before pushing or acknowledging.
        List<Instruction> e = DecodeFrom(Image.VectorEntries[StubVector.Kick], 3);
        Assert.Equal(Mnemonic.Test, e[0].Mnemonic);
        Assert.Equal(Register.RSP, e[0].MemoryBase);
        Assert.Equal(8UL, e[0].MemoryDisplacement64);
        Assert.Equal(MemorySize.UInt8, e[0].MemorySize);
        Assert.Equal(3UL, e[0].GetImmediate(1));
        Assert.Equal(Mnemonic.Jne, e[1].Mnemonic);
        Assert.Equal(Mnemonic.Iretq, e[2].Mnemonic);
        Assert.Equal(e[2].NextIP, KickFromGuest());

        // No other vector filters: a ring-0 exception is a real fault in the stub.
        for (int v = 0; v < 256; v++)
        {
            if (v != StubVector.Kick)
            {
                Assert.Equal(Mnemonic.Push, DecodeFrom(Image.VectorEntries[v], 1)[0].Mnemonic);
            }
        }
    }

    [Fact]
    public void AFaultInTheStubIsReportedWithItsVectorErrorCodeAndPlace()
    {
        ulong rip = Image.VectorEntries[14] + 2;
        string s = Hypervisor.Pv.CrashReport.DescribeStubFault(14, 0x2, rip, 0xe008, 0x2, 0xffff828000213f18, 0xdead000, Image);
        Assert.Equal($"#PF (vector 0xe) error 0x2 at rip 0x{rip:x} (vector 0xe entry+0x2) cr2 0xdead000, cs e008 rflags 0x2 rsp 0xffff828000213f18", s);
        Assert.Contains("common+0x", Image.Symbolize(Image.CommonEntry + 5));
        Assert.Equal("syscall trampoline 1+0x8", Image.Symbolize(StubImage.SyscallEntry(1) + 8));
        Assert.Contains("outside the stub", Image.Symbolize(0x1000));
        Assert.StartsWith("interrupt vector 0x40 (vector 0x40) at rip", Hypervisor.Pv.CrashReport.DescribeStubFault(0x40, 0, Image.VectorEntries[0x40], 0xe008, 0x2, 0, 0, Image));
    }

    [Fact]
    public void TheWholeBodyDecodesAndLeavesThroughTheExitPort()
    {
        List<Instruction> body = DecodeFrom(Image.CommonEntry, 400).TakeWhile(i => !i.IsInvalid).ToList();
        Assert.Contains(body, i => i.Mnemonic == Mnemonic.Out && i.GetImmediate(0) == StubVector.ExitPort);
        Assert.Contains(body, i => i.Mnemonic == Mnemonic.Iretq);
    }

    [Fact]
    public void AGeneralProtectionFaultTriesThePortIoPathBeforeTheHost()
    {
        List<Instruction> body = DecodeFrom(Image.CommonEntry, 1000).TakeWhile(i => !i.IsInvalid).ToList();
        int d = body.FindIndex(i => Image.Symbolize(i.IP) == "dispatch+0x0");
        Assert.Equal(Mnemonic.Cmp, body[d].Mnemonic);
        Assert.Equal((ulong)StubFrame.Vector, body[d].MemoryDisplacement64);
        Assert.Equal(13UL, body[d].GetImmediate(1));
        Assert.Equal("port_io+0x0", Image.Symbolize(body[d + 1].NearBranchTarget));

        // The path up to its jump to check_events: it tests each port range the host models, and counts what it answered.
        List<Instruction> path = body.SkipWhile(i => i.IP != body[d + 1].NearBranchTarget)
            .TakeWhile(i => !(i.Mnemonic == Mnemonic.Jmp && Image.Symbolize(i.NearBranchTarget) == "check_events+0x0")).ToList();
        var compared = path.Where(i => i.Mnemonic == Mnemonic.Cmp && i.Op0Register == Register.EDX).Select(i => i.GetImmediate(1)).ToList();
        var lasts = path.Where(i => i.Mnemonic == Mnemonic.Cmp && i.Op0Register == Register.EDI).Select(i => i.GetImmediate(1)).ToList();
        foreach ((uint first, uint last) in StubPortIo.HostPorts)
        {
            Assert.Contains((ulong)last, compared);
            Assert.Contains((ulong)first, lasts);
        }

        Instruction count = Assert.Single(path, i => i.Mnemonic == Mnemonic.Inc && i.Op0Kind == OpKind.Memory);
        Assert.Equal(unchecked((ulong)(StubLayout.FrameToData + StubLayout.DataPortIoInVm)), count.MemoryDisplacement64);
        Assert.Equal(MemorySize.UInt64, count.MemorySize);
    }

    [Fact]
    public void FrameLayoutMatchesThePushOrder()
    {
        // 15 GPRs + CR2 below the vector; the hardware frame above the error code.
        Assert.Equal(StubFrame.Vector + 8, StubFrame.ErrorCode);
        Assert.Equal(16 * 8, StubFrame.Vector);
        Assert.Equal(StubFrame.Ss + 8, StubFrame.Size);
        Assert.Equal(StubLayout.DataPage(0), (ulong)((long)StubLayout.StackTop(0) - StubFrame.Size + StubLayout.FrameToData));
    }
}
