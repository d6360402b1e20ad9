using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// multicall(call_list, nr_calls) (xen/common/multicall.c): runs each 64-byte entry {op, result, args[6]} through the
/// dispatcher in order and writes its result. A nested multicall is refused (-EINVAL in that entry). An iret entry runs
/// (it switches the vCPU's context) and, as in Xen (mc_exit, the XSA-213 fix), ends the batch: nothing after it runs
/// in the new context, and the multicall returns the iret's result (the restored RAX). Returns 0 otherwise, -EFAULT
/// when an entry cannot be read or its result written.
/// </summary>
internal static class MulticallHypercall
{
    public const int EntrySize = 64;

    [ThreadStatic]
    private static bool t_inMulticall;

    public static long Multicall(Vcpu vcpu, ulong list, ulong nr, ulong a3, ulong a4, ulong a5)
    {
        if (t_inMulticall)
        {
            return -XenErrno.EINVAL; // "Multicall reentry is disallowed"
        }

        t_inMulticall = true;
        try
        {
            Span<byte> entry = stackalloc byte[EntrySize];
            Span<byte> result = stackalloc byte[8];
            for (ulong i = 0; i < nr; i++)
            {
                ulong va = list + (i * EntrySize);
                if (!vcpu.CopyFromGuest(va, entry))
                {
                    return -XenErrno.EFAULT;
                }

                ulong op = BinaryPrimitives.ReadUInt64LittleEndian(entry);
                bool iret = op == HypercallNumber.Iret;
                vcpu.Domain.Exits?.Multicalled(op);
                long r = (long)HypercallDispatcher.Dispatch(vcpu, op, Arg(entry, 0), Arg(entry, 1), Arg(entry, 2), Arg(entry, 3), Arg(entry, 4));
                BinaryPrimitives.WriteInt64LittleEndian(result, r);
                if (iret)
                {
                    vcpu.CopyToGuest(va + 8, result); // best effort: the context may have changed under it
                    return r;
                }

                if (!vcpu.CopyToGuest(va + 8, result))
                {
                    return -XenErrno.EFAULT;
                }
            }

            return 0;
        }
        finally
        {
            t_inMulticall = false;
        }
    }

    private static ulong Arg(ReadOnlySpan<byte> entry, int n) => BinaryPrimitives.ReadUInt64LittleEndian(entry[(16 + (8 * n))..]);
}
