using System.Buffers.Binary;
using Iced.Intel;
using XenSharp.Abi;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Stub;
using Xunit;

namespace XenSharp.Tests.Emulation;

/// <summary>
/// Port I/O the stub answers in the VM (Stub/StubPortIo): its decision, mirrored on the host, decodes as Iced does,
/// answers only what the host's emulation answers the same way, and reads state the host keeps mirrored in the data page.
/// </summary>
public sealed class StubPortIoTests : EmulationFixture
{
    private static readonly byte[] Opcodes = [0xe4, 0xe5, 0xe6, 0xe7, 0xec, 0xed, 0xee, 0xef];

    private long SetIopl(uint iopl)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, iopl);
        Put(Data, b);
        return Call(HypercallNumber.PhysdevOp, PhysdevHypercall.SetIopl, Data);
    }

    private Span<byte> DataPage => D.Pool.Memory.GetSpan(D.StubPages.DataMachineAddress(V.Id), 4096);

    /// <summary>The state as the stub reads it: from the data page, not from the host's own fields.</summary>
    private StubPortIoState State => new(
        DataPage[StubLayout.DataKernelMode] != 0,
        DataPage[StubLayout.DataSlowPath] != 0,
        DataPage[StubLayout.DataVirtualIopl],
        DataPage[StubLayout.DataIoBreakpoints] != 0);

    private bool Answers(byte[] code, ulong rdx, out StubPortAccess a, ulong rip = Code, ulong rflags = 0x202, ulong error = 0) =>
        StubPortIo.TryAnswer(State, rip, error, rflags, rdx, Padded(code), out a);

    private static byte[] Padded(byte[] code)
    {
        var b = new byte[StubPortIo.FetchBytes];
        b.AsSpan().Fill(0x90);
        code.CopyTo(b, 0);
        return b;
    }

    private static IEnumerable<byte[]> Encodings(byte port)
    {
        foreach (byte op in Opcodes)
        {
            bool imm = (op & 8) == 0;
            yield return imm ? [op, port] : [op];
            yield return imm ? [0x66, op, port] : [0x66, op];
        }
    }

    [Fact]
    public void DecodesEveryInAndOutFormAsIcedDoes()
    {
        Assert.Equal(0, SetIopl(1));
        foreach (byte[] code in Encodings(0x42))
        {
            Assert.True(Answers(code, 0x3f8, out StubPortAccess a), Convert.ToHexString(code));
            Instruction i = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(Padded(code)), Code).Decode();
            Assert.Equal(i.Mnemonic == Mnemonic.In, a.Input);
            Register value = a.Input ? i.Op0Register : i.Op1Register;
            Assert.Equal(value.GetSize(), a.Size);
            OpKind portKind = a.Input ? i.Op1Kind : i.Op0Kind;
            Assert.Equal(portKind == OpKind.Immediate8 ? 0x42u : 0x3f8u, a.Port);
            Assert.Equal(i.Length, a.Length);
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x6c })]                   // insb
    [InlineData(new byte[] { 0xf3, 0x6e })]             // rep outsb
    [InlineData(new byte[] { 0xf3, 0xe4, 0x42 })]       // a rep prefix on in
    [InlineData(new byte[] { 0x48, 0xe5, 0x42 })]       // REX
    [InlineData(new byte[] { 0x66, 0x66, 0xe5, 0x42 })] // two operand-size prefixes
    [InlineData(new byte[] { 0x2e, 0xec })]             // a segment prefix
    [InlineData(new byte[] { 0xfa })]                   // cli
    [InlineData(new byte[] { 0x0f, 0x32 })]             // rdmsr
    public void LeavesEverythingElseToTheHost(byte[] code)
    {
        Assert.Equal(0, SetIopl(1));
        Assert.False(Answers(code, 0x42, out _));
    }

    [Theory]
    [InlineData(0x70u, 1, true)]
    [InlineData(0x6fu, 2, true)]     // covers the RTC index
    [InlineData(0x6du, 4, true)]
    [InlineData(0x71u, 1, false)]    // the RTC's data port reads all ones: answered
    [InlineData(0x6cu, 4, false)]
    [InlineData(0xcf8u, 4, true)]
    [InlineData(0xcf6u, 4, true)]
    [InlineData(0xcfcu, 1, true)]
    [InlineData(0xcffu, 4, true)]
    [InlineData(0xcf7u, 1, false)]
    [InlineData(0xd00u, 4, false)]
    [InlineData(0xffffu, 4, false)]
    public void KeepsThePortsTheHostModels(uint port, int size, bool host) => Assert.Equal(host, StubPortIo.IsHostPort(port, size));

    [Fact]
    public void AnswersOnlyKernelModeWithIoplNoBreakpointsNoTrapFlag()
    {
        byte[] inAl = [0xe4, 0x42];
        Assert.False(Answers(inAl, 0, out _));                     // IOPL 0: the host checks the I/O bitmap
        Assert.Equal(0, SetIopl(1));
        Assert.True(Answers(inAl, 0, out _));
        Assert.False(Answers(inAl, 0, out _, rflags: 0x302));      // TF: the host raises #DB after it
        Assert.False(Answers(inAl, 0, out _, error: 0x42));        // a #GP with an error code is no I/O fault
        Assert.True(Answers(inAl, 0, out _, rip: Code + 0xff8));
        Assert.False(Answers(inAl, 0, out _, rip: Code + 0xff9));  // the 8-byte fetch would cross the page
        V.SetKernelMode(false);
        Assert.Equal(0, SetIopl(3));
        Assert.False(Answers(inAl, 0, out _));                     // user mode: always the host's (#GP or IOPL 3)
        V.SetKernelMode(true);
        V.SetSlowPathOnly(true);                                   // architectural IOPL
        Assert.False(Answers(inAl, 0, out _));
        V.SetSlowPathOnly(false);

        V.VirtualCr4 |= 1UL << 3;                                  // CR4.DE
        Assert.Equal(0, Call(HypercallNumber.SetDebugreg, 0, 0x300));
        Assert.Equal(0, Call(HypercallNumber.SetDebugreg, 7, 0x400 | 2 | (2UL << 16))); // an I/O breakpoint
        Assert.False(Answers(inAl, 0, out _));
        Assert.Equal(0, Call(HypercallNumber.SetDebugreg, 7, 0x400));
        Assert.True(Answers(inAl, 0, out _));
        Assert.Equal(0, SetIopl(0));
        Assert.Equal(0, DataPage[StubLayout.DataVirtualIopl]);
    }

    [Fact]
    public void WhatTheStubAnswersIsWhatTheHostEmulates()
    {
        Assert.Equal(0, SetIopl(1));
        int answered = 0;
        foreach (byte port in new byte[] { 0x42, 0x61, 0x71, 0x80, 0x6f, 0x70 })
        {
            foreach (byte[] code in Encodings(port))
            {
                foreach (ulong rdx in new ulong[] { 0x42, 0x3f8, 0xcfc, 0xcf8, 0x70, 0xffff })
                {
                    const ulong Before = 0x1122_3344_5566_7788;
                    SetReg(StubFrame.Rax, Before);
                    SetReg(StubFrame.Rdx, rdx);
                    if (!Answers(code, rdx, out StubPortAccess a))
                    {
                        continue;
                    }

                    answered++;
                    ulong expected = !a.Input ? Before : a.Size switch
                    {
                        1 => Before | 0xff,
                        2 => Before | 0xffff,
                        _ => 0xffff_ffff,
                    };
                    AssertEmulated(Gp(code));
                    Assert.Equal(expected, Reg(StubFrame.Rax));
                    Assert.Equal(Code + (ulong)a.Length, Rip);
                }
            }
        }

        Assert.True(answered > 50, $"{answered} answered");
    }

    [Fact]
    public void TheStubAsksTheHostForARtcIndexItLatched()
    {
        // What keeping 0x70 on the host is for: a read gives back the index written, not all ones.
        Assert.Equal(0, SetIopl(1));
        SetReg(StubFrame.Rax, 0x0b);
        Assert.False(Answers([0xe6, 0x70], 0, out _));
        AssertEmulated(Gp(0xe6, 0x70));
        Assert.False(Answers([0xe4, 0x70], 0, out _));
        AssertEmulated(Gp(0xe4, 0x70));
        Assert.Equal(0x0bUL, Reg(StubFrame.Rax) & 0xff);
    }

    [Fact]
    public void TheDomainCountsWhatTheStubAnsweredApartFromExits()
    {
        var c = new XenSharp.Hypervisor.Domains.ExitCounts();
        BinaryPrimitives.WriteUInt64LittleEndian(DataPage[StubLayout.DataPortIoInVm..], 41);
        c.CountPortIoInVm(D.StubPages.PortIoInVm);
        Assert.Equal(41, c.PortIoInVm);
        Assert.Contains("; ports 0; port I/O answered in the VM 41", c.Summary());
        Assert.StartsWith("exits: 0 in ", c.Summary());
    }
}
