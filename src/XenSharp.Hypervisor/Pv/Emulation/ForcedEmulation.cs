using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Pv.Policy;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Pv.Emulation;

/// <summary>
/// Xen's forced-emulation prefix on a #UD (pv/emul-inv-op.c): <c>ud2; .ascii "xen"; cpuid</c>
/// (0f 0b 78 65 6e 0f a2) runs CPUID through the PV policy and continues after it. Any other #UD — a plain ud2, or the
/// prefix followed by something else — is left to the caller (the guest gets its #UD).
/// </summary>
internal static class ForcedEmulation
{
    public const int PrefixLength = 5;
    public const int Length = 7;
    private static ReadOnlySpan<byte> Prefix => [0x0f, 0x0b, 0x78, 0x65, 0x6e]; // ud2; "xen"

    public static EmulationResult TryCpuid(Vcpu v, PvCpuidPolicy p)
    {
        ulong rip = v.FrameGet(StubFrame.Rip);
        Span<byte> bytes = stackalloc byte[Length];
        if (!ReadOrFault(v, rip, bytes[..PrefixLength], out EmulationResult fault))
        {
            return fault;
        }

        if (!bytes[..PrefixLength].SequenceEqual(Prefix))
        {
            return EmulationResult.NotHandled;
        }

        if (!ReadOrFault(v, rip + PrefixLength, bytes[PrefixLength..], out fault))
        {
            return fault;
        }

        if (bytes[PrefixLength] != 0x0f || bytes[PrefixLength + 1] != 0xa2)
        {
            return EmulationResult.NotHandled; // only CPUID is emulated
        }

        v.Domain.Exits?.ForcedCpuid();

        // CPUID faulting (MSR_MISC_FEATURES_ENABLES) would turn a user-mode one into #GP; it cannot be enabled here.
        CpuidResult r = p.Query(v, (uint)v.FrameGet(StubFrame.Rax), (uint)v.FrameGet(StubFrame.Rcx), forced: true);
        v.FrameSet(StubFrame.Rax, r.Eax);
        v.FrameSet(StubFrame.Rbx, r.Ebx);
        v.FrameSet(StubFrame.Rcx, r.Ecx);
        v.FrameSet(StubFrame.Rdx, r.Edx);
        return PrivilegedInstructions.Complete(v, p, rip + Length);
    }

    private static bool ReadOrFault(Vcpu v, ulong address, Span<byte> destination, out EmulationResult fault)
    {
        fault = default;
        if (v.CopyFromGuest(address, destination))
        {
            return true;
        }

        fault = PageFaults.Fault(v, PageFaults.FirstInaccessible(v, v.CurrentL4, address, destination.Length, write: false), write: false);
        return false;
    }
}
