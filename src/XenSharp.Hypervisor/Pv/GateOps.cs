using System.Buffers.Binary;
using Iced.Intel;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Mmu;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Pv;

/// <summary>
/// Far CALL/JMP through a selector, which a PV guest's #GP hands to Xen's gate emulation (pv/emul-gate-op.c): the
/// selector must name a present 64-bit call gate in the guest's GDT or LDT, else the guest gets #GP(selector).
/// The machine cannot be trusted to say so itself (the guest LDT is only recorded, and kvm_pvm reports #GP(0)).
/// Transfers through a valid gate are not emulated yet; they also fault, with a logged note.
/// </summary>
internal static class GateOps
{
    private static readonly bool AmdDecoding = IsAmd();

    public static EmulationResult TryEmulate(Vcpu v)
    {
        ulong rip = v.FrameGet(StubFrame.Rip);
        var code = new byte[15];
        int first = Math.Min(15, 4096 - (int)(rip & 0xfff));
        if (!v.CopyFromGuest(rip, code.AsSpan(0, first)))
        {
            return EmulationResult.NotHandled;
        }

        if (first < 15)
        {
            v.CopyFromGuest(rip + (ulong)first, code.AsSpan(first));
        }

        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(code), rip, AmdDecoding ? DecoderOptions.AMD : DecoderOptions.None);
        Instruction i = decoder.Decode();
        int offsetBytes = i.Code switch
        {
            Code.Call_m1664 or Code.Jmp_m1664 => 8,
            Code.Call_m1632 or Code.Jmp_m1632 => 4,
            Code.Call_m1616 or Code.Jmp_m1616 => 2,
            _ => 0,
        };
        if (offsetBytes == 0)
        {
            return EmulationResult.NotHandled;
        }

        ulong ea = i.GetVirtualAddress(0, 0, (Register r, int _, int _) =>
            r.IsGPR64() || r.IsGPR32() ? Emulation.GuestRegisters.Get(v, r) : 0);
        Span<byte> sel = stackalloc byte[2];
        if (!v.CopyFromGuest(ea + (ulong)offsetBytes, sel))
        {
            return EmulationResult.NotHandled;
        }

        ushort selector = BinaryPrimitives.ReadUInt16LittleEndian(sel);
        ulong error = (ulong)(selector & ~3);
        if (ReadDescriptor(v, selector, out ulong low) && IsCallGate64(low))
        {
            v.Domain.Log.Limited($"d{v.Domain.Id}-callgate", $"(d{v.Domain.Id}v{v.Id}) far transfer through call gate 0x{selector:x}: call gates are not emulated yet, #GP");
        }

        return EmulationResult.Fault(13, error);
    }

    private static bool ReadDescriptor(Vcpu v, ushort selector, out ulong low)
    {
        low = 0;
        int index = selector >> 3;
        VcpuMmuState s = v.Domain.Mmu.VcpuState(v.Id);
        Span<byte> d = stackalloc byte[8];
        if ((selector & 4) != 0)
        {
            if (index >= s.LdtEntries || !v.CopyFromGuest(s.LdtBase + ((ulong)index * 8), d))
            {
                return false;
            }
        }
        else
        {
            if (index == 0 || index >= s.GdtEntries || index >= XenSelectors.FirstReservedGdtEntry || s.GdtFrames[index / 512] is not { } frame)
            {
                return false;
            }

            v.Domain.Pool.Frame(frame).Slice((index % 512) * 8, 8).CopyTo(d);
        }

        low = BinaryPrimitives.ReadUInt64LittleEndian(d);
        return true;
    }

    private static bool IsCallGate64(ulong low) => ((low >> 40) & 0x1f) == 0x0c && (low & (1UL << 47)) != 0;

    private static bool IsAmd()
    {
        if (!System.Runtime.Intrinsics.X86.X86Base.IsSupported)
        {
            return false;
        }

        (int _, int ebx, int _, int _) = System.Runtime.Intrinsics.X86.X86Base.CpuId(0, 0);
        return ebx == 0x68747541; // "Auth"enticAMD
    }
}
