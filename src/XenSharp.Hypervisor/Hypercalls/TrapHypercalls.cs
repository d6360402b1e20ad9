using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Pv;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>set_trap_table and stack_switch: recorded now, used by the trap bounce.</summary>
internal static class TrapHypercalls
{
    /// <summary>A list longer than this is a guest bug (Xen would preempt and go on); refuse it rather than spin.</summary>
    private const int MaxEntries = 65536;

    public static long SetTrapTable(Vcpu vcpu, ulong list, ulong a2, ulong a3, ulong a4, ulong a5)
    {
        if (list == 0)
        {
            Array.Clear(vcpu.TrapTable);
            return 0;
        }

        Span<byte> e = stackalloc byte[TrapInfo.Size];
        for (int i = 0; i < MaxEntries; i++)
        {
            if (!vcpu.CopyFromGuest(list + ((ulong)i * TrapInfo.Size), e))
            {
                return -XenErrno.EFAULT;
            }

            ulong address = BinaryPrimitives.ReadUInt64LittleEndian(e[8..]);
            if (address == 0)
            {
                return 0;
            }

            if (!GuestPageWalker.IsCanonical(address))
            {
                return -XenErrno.EINVAL;
            }

            byte vector = e[0];
            ushort cs = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(e[2..]) | 3);
            vcpu.TrapTable[vector] = new TrapInfo(vector, e[1], cs, address);
        }

        return -XenErrno.EINVAL;
    }

    public static long StackSwitch(Vcpu vcpu, ulong ss, ulong sp, ulong a3, ulong a4, ulong a5)
    {
        vcpu.KernelSs = ss | 3; // guest selectors are ring 3 on 64-bit PV
        vcpu.KernelSp = sp;
        return 0;
    }
}
