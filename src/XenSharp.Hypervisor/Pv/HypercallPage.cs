using Iced.Intel;
using XenSharp.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace XenSharp.Hypervisor.Pv;

/// <summary>
/// The contents of a guest's hypercall page, as Xen writes it for 64-bit PV: 128 stubs of 32 bytes, stub n doing
/// "push rcx; push r11; mov eax, n; syscall; pop r11; pop rcx; ret", the iret stub pushing RAX too and never
/// returning; the rest of the page is int3.
/// </summary>
internal static class HypercallPage
{
    public static byte[] Create()
    {
        var page = new byte[4096];
        page.AsSpan().Fill(0xcc);
        for (int n = 0; n < HypercallNumber.PageStubCount; n++)
        {
            var a = new Assembler(64);
            a.push(rcx);
            a.push(r11);
            if (n == HypercallNumber.Iret)
            {
                a.push(rax);
                a.mov(eax, n);
                a.syscall();
            }
            else
            {
                a.mov(eax, n);
                a.syscall();
                a.pop(r11);
                a.pop(rcx);
                a.ret();
            }

            var s = new MemoryStream();
            a.Assemble(new StreamCodeWriter(s), 0);
            s.ToArray().CopyTo(page.AsSpan(n * HypercallNumber.PageStubSize));
        }

        return page;
    }
}
