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
            List<Instruction> e = DecodeFrom(Image.VectorEntries[v], 3);
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

    [Fact]
    public void TheWholeBodyDecodesAndLeavesThroughTheExitPort()
    {
        List<Instruction> body = DecodeFrom(Image.CommonEntry, 400).TakeWhile(i => !i.IsInvalid).ToList();
        Assert.Contains(body, i => i.Mnemonic == Mnemonic.Out && i.GetImmediate(0) == StubVector.ExitPort);
        Assert.Contains(body, i => i.Mnemonic == Mnemonic.Iretq);
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
