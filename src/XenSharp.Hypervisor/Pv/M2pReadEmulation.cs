using Iced.Intel;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Pv;

/// <summary>
/// kvm_pvm faults every ring-3 access to L4 slot 256 (reserved-bit #PF; tools/probes/user-read-slot.c), where Xen's
/// ABI puts the read-only M2P and guests such as XTF read it at that fixed address. Such a read is emulated: the
/// faulting load is decoded, the value read from the M2P table, the destination register written and RIP advanced.
/// Only plain loads (MOV, MOVZX, MOVSX, MOVSXD) inside the table; anything else stays a #PF for the guest.
/// On hardware KVM the mapping works and this path is never taken.
/// </summary>
internal static class M2pReadEmulation
{
    public static bool TryEmulate(Vcpu v, ulong cr2, ulong errorCode)
    {
        ulong start = XenVirtualLayout.MachToPhysStart;
        ulong tableBytes = v.Domain.Pool.M2p.Bytes;
        if ((errorCode & 0x12) != 0 || cr2 < start || cr2 - start >= tableBytes)
        {
            return false; // writes and fetches fault as on Xen; so do reads past the table
        }

        ulong rip = v.FrameGet(StubFrame.Rip);
        var code = new byte[15];
        int first = Math.Min(15, 4096 - (int)(rip & 0xfff));
        if (!v.CopyFromGuest(rip, code.AsSpan(0, first)))
        {
            return false;
        }

        if (first < 15)
        {
            v.CopyFromGuest(rip + (ulong)first, code.AsSpan(first));
        }

        Instruction i = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(code), rip).Decode();
        if (i.IsInvalid || i.OpCount != 2 || i.Op0Kind != OpKind.Register || i.Op1Kind != OpKind.Memory
            || i.Mnemonic is not (Mnemonic.Mov or Mnemonic.Movzx or Mnemonic.Movsx or Mnemonic.Movsxd))
        {
            return false;
        }

        int size = i.MemorySize switch
        {
            MemorySize.UInt8 or MemorySize.Int8 => 1,
            MemorySize.UInt16 or MemorySize.Int16 => 2,
            MemorySize.UInt32 or MemorySize.Int32 => 4,
            MemorySize.UInt64 or MemorySize.Int64 => 8,
            _ => 0,
        };
        if (size == 0 || cr2 - start + (ulong)size > tableBytes)
        {
            return false;
        }

        Span<byte> raw = stackalloc byte[8];
        raw.Clear();
        v.Domain.Pool.Memory.GetSpan(v.Domain.Pool.M2p.First.Address + (cr2 - start), size).CopyTo(raw);
        ulong value = BitConverter.ToUInt64(raw);
        bool signExtend = i.Mnemonic is Mnemonic.Movsx or Mnemonic.Movsxd;
        if (signExtend)
        {
            int shift = 64 - (size * 8);
            value = (ulong)((long)(value << shift) >> shift);
        }

        if (i.Op0Register is Register.AH or Register.BH or Register.CH or Register.DH || !i.Op0Register.IsGPR())
        {
            return false;
        }

        Emulation.GuestRegisters.Set(v, i.Op0Register, value);

        v.FrameSet(StubFrame.Rip, i.NextIP);
        return true;
    }
}
