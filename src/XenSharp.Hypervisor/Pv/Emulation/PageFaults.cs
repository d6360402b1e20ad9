using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Pv.Emulation;

/// <summary>The #PF an emulator raises when guest memory it must access is not accessible (Xen's x86_emul_pagefault).</summary>
internal static class PageFaults
{
    private const ulong ErrorWrite = 2;

    /// <summary>
    /// A #PF for the guest at <paramref name="address"/>. The caller delivers it with the address taken from the
    /// virtual CR2, so set that here. Xen reports these with error code 0 (or W for writes); the delivery path adds
    /// the user-mode bit.
    /// </summary>
    public static EmulationResult Fault(Vcpu v, ulong address, bool write)
    {
        v.VirtualCr2 = address;
        return EmulationResult.Fault(14, write ? ErrorWrite : 0);
    }

    /// <summary>The first byte of [address, address + length) that cannot be accessed through <paramref name="l4"/>.</summary>
    public static ulong FirstInaccessible(Vcpu v, Mfn l4, ulong address, int length, bool write)
    {
        for (int i = 0; i < length; i++)
        {
            ulong a = address + (ulong)i;
            if (!GuestPageWalker.TryTranslate(v.Domain.Pool, v.Domain.Id, l4, a, write, out _))
            {
                return a;
            }
        }

        return address;
    }
}
