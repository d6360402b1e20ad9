using Iced.Intel;
using XenSharp.Hypervisor.Hypercalls;
using static Iced.Intel.AssemblerRegisters;

namespace XenSharp.Hypervisor.Stub;

/// <summary>
/// Two hypercalls the stub answers in its hypercall path without leaving the VM, as Xen's do_set_segment_base and
/// do_stack_switch do, because Linux makes them by the ten thousand (a boot: ~14k set_segment_base, ~7k stack_switch,
/// each an exit before):
/// <list type="bullet">
/// <item><c>set_segment_base(SEGBASE_FS | SEGBASE_GS_USER | SEGBASE_GS_KERNEL, base)</c> with a canonical base: one
/// <c>wrmsr</c> of FS_BASE, KERNEL_GS_BASE (the guest's user GS base while it is in kernel mode, which a hypercall
/// always is) or GS_BASE, where Pv/Emulation/SegmentBases keeps them; RAX 0. And
/// <c>set_segment_base(SEGBASE_GS_USER_SEL, NUL)</c>, which Linux's load_gs_index makes at every switch to a user task:
/// the user GS base becomes 0, as the host's handler gives it (the %gs selector itself is not loaded, there either).</item>
/// <item><c>stack_switch(ss, sp)</c>: the data page's kernel SS (RPL forced to 3) and SP, which the host reads from there
/// (Vcpu.KernelSs, KernelSp); RAX 0.</item>
/// </list>
/// Invariants: a call is answered here only in guest kernel mode with the fast paths on (the hypercall path's own
/// checks); anything else — GS_USER_SEL with a selector other than NUL, an unknown selector, a non-canonical base —
/// goes to the host with the frame untouched, which answers as before (the selectors are <see cref="SegmentHypercalls"/>'s). Each answer is counted in the data page (only the stub writes those counts) and
/// then leaves through check_events, so an event that became deliverable still gets its upcall.
/// </summary>
internal static class StubHypercalls
{
    private const int D = StubLayout.FrameToData;

    /// <summary>Emits the two paths; <paramref name="toHost"/> is the hypercall dispatch, <paramref name="done"/> check_events.</summary>
    public static void Emit(Assembler a, ref Label segmentBase, ref Label stackSwitch, Label toHost, Label done)
    {
        Label write = a.CreateLabel("segment_base_write");
        a.Label(ref segmentBase);
        a.mov(rax, __qword_ptr[rsp + StubFrame.Rsi]);
        a.mov(rdx, rax);
        a.shl(rdx, 16);
        a.sar(rdx, 16);
        a.cmp(rdx, rax);
        a.jne(toHost);                  // non-canonical: the host's -EINVAL
        a.mov(rdi, __qword_ptr[rsp + StubFrame.Rdi]);
        a.mov(ecx, unchecked((int)Pv.Policy.MsrIndex.FsBase));
        a.cmp(rdi, (int)SegmentHypercalls.SegbaseFs);
        a.je(write);
        a.mov(ecx, unchecked((int)Pv.Policy.MsrIndex.ShadowGsBase));
        a.cmp(rdi, (int)SegmentHypercalls.SegbaseGsUser);
        a.je(write);
        a.mov(ecx, unchecked((int)Pv.Policy.MsrIndex.GsBase));
        a.cmp(rdi, (int)SegmentHypercalls.SegbaseGsKernel);
        a.je(write);
        a.cmp(rdi, (int)SegmentHypercalls.SegbaseGsUserSel);
        a.jne(toHost);                  // unknown selectors: the host's -EINVAL
        a.test(eax, 0xfffc);
        a.jnz(toHost);                  // a selector other than NUL: the host reads its descriptor
        a.mov(ecx, unchecked((int)Pv.Policy.MsrIndex.ShadowGsBase));
        a.xor(eax, eax);                // NUL loads base 0 as the user GS base
        a.Label(ref write);
        a.mov(rdx, rax);
        a.shr(rdx, 32);
        a.wrmsr();
        a.mov(__qword_ptr[rsp + StubFrame.Rax], 0);
        a.inc(__qword_ptr[rsp + D + StubLayout.DataSegmentBaseInVm]);
        a.jmp(done);

        a.Label(ref stackSwitch);
        a.mov(rax, __qword_ptr[rsp + StubFrame.Rdi]);
        a.or(rax, 3);                   // guest selectors are ring 3 on 64-bit PV
        a.mov(__qword_ptr[rsp + D + StubLayout.DataKernelSs], rax);
        a.mov(rax, __qword_ptr[rsp + StubFrame.Rsi]);
        a.mov(__qword_ptr[rsp + D + StubLayout.DataKernelSp], rax);
        a.mov(__qword_ptr[rsp + StubFrame.Rax], 0);
        a.inc(__qword_ptr[rsp + D + StubLayout.DataStackSwitchInVm]);
        a.jmp(done);
    }
}
