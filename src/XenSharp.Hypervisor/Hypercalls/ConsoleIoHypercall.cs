using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>console_io(cmd, count, buffer): the early console. Real Xen allows it to privileged or debug builds only; we print for every domain.</summary>
internal static class ConsoleIoHypercall
{
    private const int Chunk = 1024;

    public static long ConsoleIo(Vcpu vcpu, ulong cmd, ulong count, ulong buffer, ulong a4, ulong a5)
    {
        uint n = (uint)count; // `unsigned int count` in the ABI
        switch (cmd)
        {
            case ConsoleIoOp.Write:
            {
                Span<byte> chunk = stackalloc byte[Chunk];
                for (uint done = 0; done < n;)
                {
                    int len = (int)Math.Min(Chunk, n - done);
                    if (!vcpu.CopyFromGuest(buffer + done, chunk[..len]))
                    {
                        return -XenErrno.EFAULT;
                    }

                    vcpu.Domain.Console.Write(chunk[..len]);
                    done += (uint)len;
                }

                return 0;
            }

            case ConsoleIoOp.Read:
            {
                Span<byte> chunk = stackalloc byte[Chunk];
                int got = vcpu.Domain.Console.Read(chunk[..(int)Math.Min(Chunk, n)]);
                if (got > 0 && !vcpu.CopyToGuest(buffer, chunk[..got]))
                {
                    return -XenErrno.EFAULT;
                }

                return got;
            }

            default:
                return -XenErrno.ENOSYS;
        }
    }
}
