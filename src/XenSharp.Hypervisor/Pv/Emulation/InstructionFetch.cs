using Iced.Intel;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Pv.Emulation;

/// <summary>
/// Reads and decodes the guest instruction at RIP (through the current guest page tables), into the vCPU thread's
/// buffer and decoder (<see cref="VcpuThreadDecoder"/>): a fetch allocates nothing.
/// </summary>
internal static class InstructionFetch
{
    private const int MaxLength = VcpuThreadDecoder.MaxLength;

    /// <summary>
    /// Decodes one instruction at <paramref name="rip"/>. On failure <paramref name="failure"/> says what to do:
    /// a #PF when bytes the instruction needs cannot be read (Xen's insn_fetch), NotHandled for undecodable bytes.
    /// </summary>
    public static bool TryDecode(Vcpu v, ulong rip, int bitness, out Instruction instruction, out EmulationResult failure)
    {
        instruction = default;
        failure = EmulationResult.NotHandled;
        if (!GuestPageWalker.IsCanonical(rip))
        {
            return false;
        }

        VcpuThreadDecoder thread = VcpuThreadDecoder.Current;
        Span<byte> bytes = thread.Bytes;
        int first = Math.Min(MaxLength, 4096 - (int)(rip & 0xfff));
        if (!v.CopyFromGuest(rip, bytes[..first]))
        {
            failure = PageFaults.Fault(v, PageFaults.FirstInaccessible(v, v.CurrentL4, rip, first, write: false), write: false);
            return false;
        }

        int length = first;
        if (first < MaxLength && v.CopyFromGuest(rip + (ulong)first, bytes[first..MaxLength]))
        {
            length = MaxLength;
        }

        Decoder decoder = thread.Decoder(bitness, length, rip);
        decoder.Decode(out instruction);
        if (decoder.LastError == DecoderError.NoMoreBytes)
        {
            failure = PageFaults.Fault(v, rip + (ulong)length, write: false);
            return false;
        }

        return !instruction.IsInvalid;
    }
}
