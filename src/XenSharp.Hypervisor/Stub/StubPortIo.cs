using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace XenSharp.Hypervisor.Stub;

/// <summary>
/// Port I/O the stub answers in its #GP path without leaving the VM: what Xen's guest_io_read and guest_io_write give a
/// domU that has no ports (Pv/Emulation/PortIo: a read is all ones of its width, a write is dropped), for the
/// instructions a guest kernel uses — <c>in</c>/<c>out</c> with an imm8 port or DX, byte, word or dword, at most one
/// 0x66 prefix. Linux's quick_pit_calibrate alone reads port 0x42 100,000 times at boot; each was an exit.
/// <para>Invariants: the stub answers only what the host would answer the same way, and leaves everything else to the
/// host with the frame untouched: guest user mode, the virtual IOPL below 1 (the kernel counts as CPL 1; the I/O bitmap
/// is the host's), architectural IOPL (the slow-path byte), armed I/O breakpoints, TF set, any other prefix or opcode
/// (INS/OUTS, REP), an instruction whose 8 fetched bytes would cross a page, and the ports PortIo models
/// (<see cref="IsHostPort"/>). A fault on the fetch (the page went away under another vCPU) also goes to the host.
/// <see cref="TryAnswer"/> is the host-side mirror of the emitted decision, for tests; the two are kept in step by
/// hand.</para>
/// </summary>
internal static class StubPortIo
{
    /// <summary>Bytes the stub reads at RIP; RIP's page offset must leave room for them.</summary>
    public const int FetchBytes = 8;

    /// <summary>Ports PortIo emulates a device for: the RTC index latch, and PCI configuration (0xcf8 latches).</summary>
    public static readonly (uint First, uint Last)[] HostPorts = [(0x70, 0x70), (0xcf8, 0xcff)];

    private const ulong FlagsTrap = 0x100;
    private const ulong FlagsResume = 0x10000;

    /// <summary>Whether an access of <paramref name="size"/> bytes at <paramref name="port"/> touches a port the host models.</summary>
    public static bool IsHostPort(uint port, int size)
    {
        uint last = port + (uint)size - 1;
        foreach ((uint first, uint end) in HostPorts)
        {
            if (port <= end && last >= first)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The stub's decision, mirrored: whether it answers the #GP(<paramref name="errorCode"/>) at <paramref name="rip"/>
    /// whose first bytes are <paramref name="code"/>, given the data-page mirrors; if so, the access it answers.
    /// </summary>
    public static bool TryAnswer(in StubPortIoState s, ulong rip, ulong errorCode, ulong rflags, ulong rdx, ReadOnlySpan<byte> code, out StubPortAccess access)
    {
        access = default;
        if (errorCode != 0 || !s.KernelMode || s.SlowPath || s.VirtualIopl < 1 || s.IoBreakpoints || (rflags & FlagsTrap) != 0
            || (rip & 0xfff) > 0x1000 - FetchBytes || code.Length < 3)
        {
            return false;
        }

        int at = code[0] == 0x66 ? 1 : 0;
        byte op = code[at];
        if ((op & 0xf4) != 0xe4)
        {
            return false;
        }

        int size = (op & 1) == 0 ? 1 : at == 1 ? 2 : 4;
        bool viaDx = (op & 8) != 0;
        uint port = viaDx ? (ushort)rdx : code[at + 1];
        if (IsHostPort(port, size))
        {
            return false;
        }

        access = new StubPortAccess((op & 2) == 0, size, port, at + 1 + (viaDx ? 0 : 1));
        return true;
    }

    /// <summary>
    /// Emits the #GP path at <paramref name="entry"/> (RSP = the frame base): answers the access and continues at
    /// <paramref name="done"/>, or goes to <paramref name="toHost"/> with the frame as it was. The one guest-memory read
    /// lies between <paramref name="fetchStart"/> and <paramref name="fetchEnd"/>, for the stub's fault handler.
    /// </summary>
    public static void Emit(Assembler a, ref Label entry, Label toHost, Label done, out Label fetchStart, out Label fetchEnd)
    {
        const int D = StubLayout.FrameToData;
        Label noPrefix = a.CreateLabel();
        Label wide = a.CreateLabel();
        Label viaDx = a.CreateLabel();
        Label havePort = a.CreateLabel();
        Label word = a.CreateLabel();
        Label dword = a.CreateLabel();
        Label finish = a.CreateLabel();
        fetchStart = a.CreateLabel("port_io_fetch");
        fetchEnd = a.CreateLabel("port_io_fetch_end");

        a.Label(ref entry);
        a.cmp(__qword_ptr[rsp + StubFrame.ErrorCode], 0);
        a.jne(toHost);
        a.cmp(__byte_ptr[rsp + D + StubLayout.DataKernelMode], 0);
        a.je(toHost);
        a.cmp(__byte_ptr[rsp + D + StubLayout.DataSlowPath], 0);
        a.jne(toHost);
        a.cmp(__byte_ptr[rsp + D + StubLayout.DataVirtualIopl], 1);
        a.jb(toHost);
        a.cmp(__byte_ptr[rsp + D + StubLayout.DataIoBreakpoints], 0);
        a.jne(toHost);
        a.test(__dword_ptr[rsp + StubFrame.Rflags], (int)FlagsTrap);
        a.jnz(toHost);
        a.mov(rsi, __qword_ptr[rsp + StubFrame.Rip]);
        a.mov(eax, esi);
        a.and(eax, 0xfff);
        a.cmp(eax, 0x1000 - FetchBytes);
        a.ja(toHost);

        a.Label(ref fetchStart);
        a.mov(rax, __qword_ptr[rsi]);
        a.Label(ref fetchEnd);
        a.nop();

        // ecx: the operand size of the wide opcodes; r8d: the instruction's length so far.
        a.mov(ecx, 4);
        a.mov(r8d, 1);
        a.cmp(al, 0x66);
        a.jne(noPrefix);
        a.shr(rax, 8);
        a.mov(ecx, 2);
        a.inc(r8d);
        a.Label(ref noPrefix);
        a.mov(edx, eax);
        a.and(edx, 0xf4);
        a.cmp(edx, 0xe4);               // e4-e7 (imm8 port), ec-ef (DX): in when bit 1 is clear, out when set
        a.jne(toHost);
        a.test(al, 1);
        a.jnz(wide);
        a.mov(ecx, 1);
        a.Label(ref wide);
        a.test(al, 8);
        a.jnz(viaDx);
        a.movzx(edx, ah);
        a.inc(r8d);
        a.jmp(havePort);
        a.Label(ref viaDx);
        a.movzx(edx, __word_ptr[rsp + StubFrame.Rdx]);
        a.Label(ref havePort);

        a.lea(edi, __[rdx + rcx - 1]);  // the last port the access touches
        foreach ((uint first, uint last) in HostPorts)
        {
            Label clear = a.CreateLabel();
            a.cmp(edx, (int)last);
            a.ja(clear);
            a.cmp(edi, (int)first);
            a.jae(toHost);
            a.Label(ref clear);
        }

        a.test(al, 2);
        a.jnz(finish);                  // out: dropped
        a.cmp(ecx, 2);
        a.je(word);
        a.ja(dword);
        a.mov(__byte_ptr[rsp + StubFrame.Rax], 0xff);
        a.jmp(finish);
        a.Label(ref word);
        a.mov(__word_ptr[rsp + StubFrame.Rax], 0xffff);
        a.jmp(finish);
        a.Label(ref dword);
        a.mov(__dword_ptr[rsp + StubFrame.Rax], -1);
        a.mov(__dword_ptr[rsp + StubFrame.Rax + 4], 0); // a 32-bit result zero-extends
        a.Label(ref finish);
        a.add(__qword_ptr[rsp + StubFrame.Rip], r8);
        a.and(__qword_ptr[rsp + StubFrame.Rflags], unchecked((int)~FlagsResume));
        a.inc(__qword_ptr[rsp + D + StubLayout.DataPortIoInVm]);
        a.jmp(done);
    }
}
